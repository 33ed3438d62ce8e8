"""`chute loadtest` against the real API and worker: accounting line and a plot."""

from pathlib import Path

from tests.conftest import ServerFactory
from tests.support.processes import run_chute
from tests.support.stack import Stack


def test_loadtest_accounts_for_every_upload_and_draws_the_queue(
    stack: Stack, servers: ServerFactory, tmp_path: Path
) -> None:
    api = servers("api", stack)
    worker = servers("worker", stack, CHUTE_QUEUE_POLL_SECONDS="1")
    plot = tmp_path / "drain.png"
    result = run_chute(
        "loadtest",
        "--count", "60",
        "--rate", "30",
        "--size", "1024",
        "--size", "70000",
        "--metrics-url", f"{worker.url}/metrics",
        "--plot", str(plot),
        "--timeout", "120",
        env={"CHUTE_API_URL": api.url},
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "uploaded 60, succeeded 60, failed 0, lost 0"
    assert lines[1].startswith("upload-to-done latency p50 ")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loadtest_against_no_api_fails_with_a_nonzero_exit(tmp_path: Path) -> None:
    result = run_chute(
        "loadtest", "--count", "3", "--metrics-url", "", "--timeout", "5",
        env={"CHUTE_API_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "uploaded 0, succeeded 0, failed 0, lost 0 (upload errors 3)" in result.stdout
