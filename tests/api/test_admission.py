"""Admission control over HTTP: with the replica's upload budget in use, a new upload
is refused at once with 503 server-busy and Retry-After, before its body is read and
before any AWS request, leaving nothing behind; reads still answer; readiness fails
while the budget stays full and returns when room does."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.polling import wait_until
from tests.support.processes import Server, run_chute
from tests.support.scrape import metric_sum
from tests.support.stack import Stack

MiB = 1024 * 1024


class SlowUpload:
    """An upload that sends one chunk, then holds its reservation until released."""

    def __init__(self, api: Server) -> None:
        self.release = threading.Event()
        self.sent_first = threading.Event()
        self.answer: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, args=(api.url,), daemon=True)
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        yield b"x" * MiB
        self.sent_first.set()
        self.release.wait(60)
        yield b"y" * MiB

    def _run(self, url: str) -> None:
        self.answer = httpx.post(f"{url}/v1/uploads", content=self._body(), timeout=60)

    def finish(self) -> httpx.Response:
        self.release.set()
        self._thread.join(60)
        assert self.answer is not None
        return self.answer


@pytest.fixture(scope="module")
def small_budget_api(module_stack: Stack, module_servers: ServerFactory) -> Server:
    return module_servers(
        "api",
        module_stack,
        CHUTE_UPLOAD_PART_BYTES=str(5 * MiB),
        CHUTE_API_UPLOAD_MEMORY_BYTES=str(7 * MiB),  # one large upload's 6.5 MiB
        CHUTE_API_UPLOAD_WAIT_SECONDS="0.2",
        CHUTE_API_BUSY_UNREADY_SECONDS="0.5",
    )


@pytest.fixture
def busy_api(small_budget_api: Server) -> Iterator[tuple[Server, SlowUpload]]:
    """The API with its whole budget held by one slow upload."""
    api = small_budget_api
    holder = SlowUpload(api)
    assert holder.sent_first.wait(30)
    wait_until(lambda: _in_use(api) > 0, timeout=10, what="the slow upload's reservation")
    try:
        yield api, holder
    finally:
        holder.finish()  # the budget is empty again for the next test


def _in_use(api: Server) -> float:
    return metric_sum(api.url, "chute_api_upload_memory_in_use_bytes")


def test_a_new_upload_is_503_server_busy_with_retry_after_and_leaves_nothing(
    busy_api: tuple[Server, SlowUpload], module_stack: Stack
) -> None:
    api, holder = busy_api
    stack = module_stack
    jobs_before = len(httpx.get(f"{api.url}/v1/jobs").json()["jobs"])
    objects_before = stack.keys()
    refused = httpx.post(f"{api.url}/v1/uploads", content=b"z" * (2 * MiB), timeout=30)
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:chute:problem:server-busy"
    assert refused.headers["retry-after"] == "2"
    # No job (the slow upload, still buffering its first part, has none yet either),
    # no object, no multipart upload.
    assert len(httpx.get(f"{api.url}/v1/jobs").json()["jobs"]) == jobs_before
    assert stack.keys() == objects_before
    assert stack.multipart_uploads() == []
    assert holder.finish().status_code == 202
    assert len(httpx.get(f"{api.url}/v1/jobs").json()["jobs"]) == jobs_before + 1


def test_reads_answer_at_once_while_the_budget_is_full(
    busy_api: tuple[Server, SlowUpload],
) -> None:
    api, _ = busy_api
    started = time.perf_counter()
    assert httpx.get(f"{api.url}/v1/jobs").status_code == 200
    assert time.perf_counter() - started < 0.2


def test_readiness_fails_while_the_budget_stays_full_and_returns_with_room(
    busy_api: tuple[Server, SlowUpload],
) -> None:
    api, holder = busy_api
    unready = wait_until(
        lambda: (r := httpx.get(f"{api.url}/readyz")).status_code == 503 and r,
        timeout=10,
        what="readiness to fail",
    )
    assert unready.json()["checks"]["upload_budget"].startswith("full for ")
    assert holder.finish().status_code == 202
    wait_until(
        lambda: httpx.get(f"{api.url}/readyz").status_code == 200,
        timeout=10,
        what="readiness to return",
    )


def _refused(api: Server) -> float:
    return metric_sum(api.url, "chute_uploads_rejected_total", reason="server-busy")


def test_chute_upload_waits_out_server_busy_and_the_upload_lands(
    busy_api: tuple[Server, SlowUpload], tmp_path: Path
) -> None:
    api, holder = busy_api
    path = tmp_path / "patient.txt"
    path.write_bytes(b"retried until there is room\n" * 80_000)  # 2.2 MiB: no room for it
    refused_before = _refused(api)
    done: list[subprocess.CompletedProcess[str]] = []
    cli = threading.Thread(
        target=lambda: done.append(
            run_chute("upload", str(path), env={"CHUTE_API_URL": api.url}, timeout=60)
        )
    )
    cli.start()
    wait_until(lambda: _refused(api) > refused_before, timeout=20, what="a server-busy refusal")
    assert holder.finish().status_code == 202
    cli.join(60)
    (result,) = done
    assert result.returncode == 0, result.stderr
    job = httpx.get(json.loads(result.stdout)["status_url"]).json()
    assert job["object"]["size"] == path.stat().st_size
