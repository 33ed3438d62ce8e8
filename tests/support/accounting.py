"""The fault suite's bookkeeping: what happened to every uploaded job."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.stack import Stack


def log_events(paths: Iterable[Path]) -> list[dict[str, Any]]:
    events = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by SIGKILL
    return events


def dlq_depth(stack: Stack) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(stack.pipeline.dlq_name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


@dataclass(frozen=True)
class Accounting:
    uploaded: int
    succeeded: int
    failed: int
    dlq: int
    duplicates: int
    lost: int

    def line(self) -> str:
        return (
            f"uploaded {self.uploaded}, succeeded {self.succeeded}, failed {self.failed}, "
            f"dlq {self.dlq}, duplicates {self.duplicates}, lost {self.lost}"
        )


def account(stack: Stack, job_ids: Iterable[str], worker_logs: Iterable[Path]) -> Accounting:
    """Count outcomes from the job records; duplicates are jobs whose success was
    committed more than once (read from every worker's log). A FAILED job that an
    operator redrives and that then succeeds is not a duplicate."""
    ids = list(job_ids)
    states = Counter((stack.job(j) or {}).get("state", "MISSING") for j in ids)
    committed = Counter(
        e["job_id"]
        for e in log_events(sorted(set(worker_logs)))  # each log once
        if e.get("event") == "job_succeeded"
    )
    result = Accounting(
        uploaded=len(ids),
        succeeded=states["SUCCEEDED"],
        failed=states["FAILED"],
        dlq=dlq_depth(stack),
        duplicates=sum(1 for j in ids if committed[j] > 1),
        lost=len(ids) - states["SUCCEEDED"] - states["FAILED"],
    )
    print(result.line())
    return result
