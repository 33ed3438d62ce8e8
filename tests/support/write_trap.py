"""An HTTP proxy in front of DynamoDB for one process: it lets every request through
until the first whose operation and body match. That one is never forwarded; `on_trap`
runs (it kills the process that sent it) and the connection is closed unanswered, as is
every request after it (a retry the dying process got out). The write is lost exactly as
it would be if its sender died a moment before sending it."""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Matcher = Callable[[str, bytes], bool]  # (operation, body) -> trap it?


class WriteTrap:
    def __init__(self, upstream_port: int, matches: Matcher, on_trap: Callable[[], None]) -> None:
        self.sprung = threading.Event()
        trap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                if trap.sprung.is_set() or matches(operation, body):
                    if not trap.sprung.is_set():
                        trap.sprung.set()
                        on_trap()
                    self.close_connection = True
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    upstream.request("POST", self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def write_trap(
    upstream_port: int, matches: Matcher, on_trap: Callable[[], None]
) -> Iterator[WriteTrap]:
    trap = WriteTrap(upstream_port, matches, on_trap)
    try:
        yield trap
    finally:
        trap.close()
