"""A TCP proxy the tests put between a client and its servers: to cut the path on demand
without losing moto's in-memory state (`refuse` resets every connection, `blackhole`
accepts and then never answers), or as a round-robin load balancer over several API
replicas (each connection goes to the next upstream that accepts it). It counts the
bytes clients sent, per upstream connection."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator


class TcpProxy:
    def __init__(self, *upstream_ports: int) -> None:
        self._upstreams = [("127.0.0.1", port) for port in upstream_ports]
        self._turn = 0
        self.sent: dict[socket.socket, int] = {}  # upstream connection -> client bytes
        self.upstream_of: dict[socket.socket, int] = {}  # upstream connection -> port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.mode = "pass"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        assert mode in ("pass", "refuse", "blackhole")
        self.mode = mode
        if mode != "pass":
            self._reset_all()

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._open = set(self._open), set()
        for s in sockets:
            _reset(s)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _reset(client)
                continue
            with self._lock:
                self._open.add(client)
            if self.mode == "blackhole":
                continue  # held open, never answered, reset when the mode changes
            upstream = self._connect()
            if upstream is None:
                _reset(client)
                continue
            with self._lock:
                self._open.add(upstream)
                self.sent[upstream] = 0
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _connect(self) -> socket.socket | None:
        """The next upstream that accepts, round-robin."""
        for _ in self._upstreams:
            address = self._upstreams[self._turn % len(self._upstreams)]
            self._turn += 1
            try:
                upstream = socket.create_connection(address)
            except OSError:
                continue
            self.upstream_of[upstream] = address[1]
            return upstream
        return None

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
                if from_client:
                    self.sent[dst] += len(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def busiest_upstream(self) -> tuple[int, int]:
        """(port, bytes) of the open upstream connection clients sent the most to."""
        with self._lock:
            open_now = [(n, c) for c, n in self.sent.items() if c.fileno() != -1]
        sent, connection = max(open_now, key=lambda pair: pair[0], default=(0, None))
        return (self.upstream_of[connection], sent) if connection is not None else (0, 0)

    @property
    def sent_total(self) -> int:
        return sum(self.sent.values())

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self._reset_all()


def _reset(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        s.close()


@contextlib.contextmanager
def tcp_proxy(*upstream_ports: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(*upstream_ports)
    try:
        yield proxy
    finally:
        proxy.close()
