"""SIGTERM on the API lets an upload in flight finish within the pod's grace period
(the chart gives the API terminationGracePeriodSeconds - preStopSleepSeconds - 5)."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator

import httpx

from tests.conftest import ServerFactory
from tests.support.polling import wait_until
from tests.support.stack import Stack

UPLOAD_SECONDS = 40  # longer than uvicorn's old hard-coded 10 s, inside a 60 s grace
POD_GRACE, PRE_STOP = 60, 5
IN_PROGRESS = re.compile(r"^chute_uploads_in_progress (\S+)$", re.M)


def _slow_body() -> Iterator[bytes]:
    for _ in range(UPLOAD_SECONDS):
        yield b"x" * 1024
        time.sleep(1)  # the client's pace: a slow upload, not a wait for a condition


def test_sigterm_lets_a_40_second_upload_in_flight_finish(
    stack: Stack, servers: ServerFactory
) -> None:
    api = servers("api", stack, CHUTE_API_SHUTDOWN_GRACE_SECONDS=str(POD_GRACE - PRE_STOP - 5))
    answers: list[httpx.Response] = []
    client = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{api.url}/v1/uploads", content=_slow_body(), timeout=120)
        )
    )
    client.start()

    def uploading() -> bool:
        found = IN_PROGRESS.search(httpx.get(f"{api.url}/metrics").text)
        return found is not None and float(found.group(1)) >= 1

    wait_until(uploading, timeout=10, what="the upload to be in flight")
    signalled = time.monotonic()
    api.proc.send_signal(signal.SIGTERM)
    client.join(timeout=POD_GRACE)
    assert answers, "the upload got no answer"
    assert answers[0].status_code == 202, answers[0].text
    assert api.proc.wait(timeout=POD_GRACE) == 0
    assert time.monotonic() - signalled < POD_GRACE  # all within the pod's grace
    job = stack.job(answers[0].json()["job_id"])
    assert job is not None
    assert job["object"]["size"] == UPLOAD_SECONDS * 1024
