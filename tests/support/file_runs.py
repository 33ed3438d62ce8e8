"""Run a CPU-bound processor's `process_file` in this process, as a pool would."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from chute_core.jobs import JobState, ObjectInfo, new_job, new_job_id
from chute_worker.processors import FileContext, FileProcessor


def run_file(
    processor: FileProcessor, body: bytes, content_type: str, tmp_path: Path
) -> tuple[dict[str, Any], FileContext]:
    source = tmp_path / "object"
    source.write_bytes(body)
    job = new_job(
        job_id=new_job_id(),
        tenant="default",
        obj=ObjectInfo(bucket="b", key="k", size=len(body)),
        ttl=timedelta(days=1),
        state=JobState.PROCESSING,
    )
    ctx = FileContext(
        job=job,
        processor=processor.spec.name,
        content_type=content_type,
        deadline=time.time() + 60,
        path=source,
        out_dir=tmp_path / "out",
    )
    return processor.process_file(ctx), ctx
