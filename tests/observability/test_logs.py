"""JSON-lines logs: every line parses; the same job_id and trace id appear in the
API's and the worker's lines; request and message ids where known; no content."""

import json

import httpx

from tests.conftest import ServerFactory
from tests.support.stack import Stack
from tests.support.uploads import wait_terminal

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SECRET = b"top-secret-file-content-4242"


def lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        out.append(json.loads(line))  # every line is one JSON event
    return out


def test_api_and_worker_log_the_same_job_and_trace_as_json_lines(
    stack: Stack, servers: ServerFactory
) -> None:
    api = servers("api", stack)
    worker = servers("worker", stack)
    r = httpx.post(
        f"{api.url}/v1/uploads",
        content=SECRET,
        headers={"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01", "X-Request-ID": "req-1"},
    )
    job_id = r.json()["job_id"]
    assert r.headers["x-request-id"] == "req-1"
    wait_terminal(stack, [job_id], timeout=30)
    api.stop()
    worker.stop()
    api_events = [e for e in lines(api.log()) if e.get("job_id") == job_id]
    worker_events = [e for e in lines(worker.log()) if e.get("job_id") == job_id]
    assert {e["event"] for e in api_events} >= {"upload_accepted"}
    assert {e["event"] for e in worker_events} >= {"job_claimed", "job_succeeded"}
    for event in api_events:
        assert event["request_id"] == "req-1"
        assert event["trace_id"] == TRACE_ID
    for event in worker_events:
        assert event["message_id"]
        assert event["tenant"] == "default"
        assert event["trace_id"] == TRACE_ID
    access = [e for e in lines(api.log()) if e.get("logger") == "uvicorn.access"]
    assert access, "uvicorn's access log is JSON too"
    assert SECRET.decode() not in api.log() + worker.log()
