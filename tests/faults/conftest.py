"""Fault-injection suite: real worker processes against moto's standalone server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import routes


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    return tmp_path / "runs.jsonl"


def recording_env(record_file: Path, **extra: str) -> dict[str, str]:
    return {
        "CHUTE_WORKER_ROUTES": routes("tests.support.processors:Recording"),
        "CHUTE_TEST_RECORD_FILE": str(record_file),
        "CHUTE_QUEUE_POLL_SECONDS": "1",
        "CHUTE_RETRY_BASE_SECONDS": "0.5",
        "CHUTE_RETRY_MAX_SECONDS": "4",
        **extra,
    }
