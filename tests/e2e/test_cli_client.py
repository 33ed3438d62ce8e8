"""`chute upload --wait` and `chute status` against the real API and worker."""

import json
import subprocess
from pathlib import Path

from tests.conftest import ServerFactory
from tests.support.processes import run_chute
from tests.support.stack import Stack


def chute(*args: str, api_url: str) -> subprocess.CompletedProcess[str]:
    return run_chute(*args, env={"CHUTE_API_URL": api_url})


def test_upload_wait_prints_the_terminal_job_and_services_stop_cleanly(
    stack: Stack, servers: ServerFactory, tmp_path: Path
) -> None:
    api = servers("api", stack)
    worker = servers("worker", stack)
    path = tmp_path / "notes.txt"
    path.write_text("one\ntwo\n")
    result = chute("upload", str(path), "--wait", api_url=api.url)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["state"] == "SUCCEEDED"
    assert job["object"]["filename"] == "notes.txt"
    assert job["object"]["content_type"] == "text/plain"
    status = chute("status", job["job_id"], api_url=api.url)
    assert json.loads(status.stdout)["job_id"] == job["job_id"]
    assert worker.stop() == 0
    assert api.stop() == 0


def test_upload_of_a_missing_file_is_one_readable_line(tmp_path: Path) -> None:
    result = chute("upload", str(tmp_path / "absent.bin"), api_url="http://127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.strip() == f"chute: error: {tmp_path / 'absent.bin'}: no such file"


def test_status_with_the_api_down_is_one_readable_line() -> None:
    result = chute("status", "x", api_url="http://127.0.0.1:9")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("chute: error: cannot reach the API")
