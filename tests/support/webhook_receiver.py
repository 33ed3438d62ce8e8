"""A webhook receiver on loopback for the tests: every delivery recorded."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

SECRET = "whsec-test-3f9a"
WEBHOOK_ENV = {
    "CHUTE_WEBHOOK_SECRET": SECRET,
    "CHUTE_WEBHOOK_ALLOW_HTTP": "true",
    "CHUTE_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
}


@dataclass
class Receiver:
    url: str = ""
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failed_once: set[str] = field(default_factory=set)  # jobs answered 503 (path /fail-once)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_job(self, job_id: str) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b in self.deliveries if h.get("chute-job-id") == job_id]


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback that records every delivery and answers 204 (503
    once per job on a URL ending /fail-once)."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.deliveries.append((headers, body))
                job = headers.get("chute-job-id", "")
                failing = self.path.endswith("/fail-once") and job not in state.failed_once
                state.failed_once.add(job)
            self.send_response(503 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def upload_with_callback(api_url: str, name: str, body: bytes, callback: str, **params: str) -> str:
    r = httpx.post(
        f"{api_url}/v1/uploads",
        params={"filename": name, "callback_url": callback, **params},
        content=body,
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id
