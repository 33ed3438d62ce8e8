"""Run a CPU-bound processor's `process_file` in this process, as a pool would."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chute_core.jobs import JobState
from chute_worker.processors import FileContext, FileProcessor
from tests.support.sample_jobs import sample_job


def run_file(
    processor: FileProcessor, body: bytes, content_type: str, tmp_path: Path
) -> tuple[dict[str, Any], FileContext]:
    source = tmp_path / "object"
    source.write_bytes(body)
    ctx = FileContext(
        job=sample_job(JobState.PROCESSING, size=len(body)),
        processor=processor.spec.name,
        content_type=content_type,
        deadline=time.time() + 60,
        path=source,
        out_dir=tmp_path / "out",
    )
    return processor.process_file(ctx), ctx
