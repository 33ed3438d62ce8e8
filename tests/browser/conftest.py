"""One stack for the browser tests: moto with real bucket CORS (the local AWS runner
sets MOTO_DISABLE_GLOBAL_CORS), an API and a worker, the upload page at the API's own
origin and a copy of it on a second allowed origin; a third origin is not allowed.
Debian's Chromium, headless, driven by Playwright's Python API (never its download)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from chute_api.api_keys import KeyFile, new_key
from chute_core.settings import AwsSettings
from tests.conftest import ServerFactory, _stacks
from tests.support.processes import Server, free_port
from tests.support.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TENANT = "browser"


@dataclass
class Site:
    """The page and where it is served."""

    stack: Stack
    api: Server
    key: str
    mirror: str  # the page on a second origin in CHUTE_CORS_ORIGINS
    foreign: str  # the page on an origin that is not

    @property
    def page_url(self) -> str:
        return f"{self.api.url}/upload"

    def jobs(self) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.api.url}/v1/jobs",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        answer.raise_for_status()
        jobs: list[dict[str, Any]] = answer.json()["jobs"]
        return jobs


@dataclass
class Console:
    """What the page printed as errors, and the scripts' uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")


def _serve(html: bytes, port: int) -> ThreadingHTTPServer:
    """A copy of the page on 127.0.0.1:`port`: another origin than the API's."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass(frozen=True)
class Ports:
    api: int
    mirror: int
    foreign: int

    def origin(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(api=free_port(), mirror=free_port(), foreign=free_port())


@pytest.fixture(scope="module")
def browser_stack(aws: AwsSettings, ports: Ports) -> Iterator[Stack]:
    """Bootstrapped with the API's and the mirror's origins (set up before the servers,
    so it is torn down after them)."""
    with _stacks(aws) as make:
        yield make(cors_origins=[ports.origin(ports.api), ports.origin(ports.mirror)])


@pytest.fixture(scope="module")
def site(
    browser_stack: Stack,
    ports: Ports,
    module_servers: ServerFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    keys = KeyFile(tmp_path_factory.mktemp("browser") / "keys.yaml")
    key = new_key()
    keys.add(TENANT, key)
    api = module_servers(
        "api",
        browser_stack,
        CHUTE_AUTH="keys",
        CHUTE_API_KEYS_FILE=str(keys.path),
        CHUTE_API_PORT=str(ports.api),
    )
    module_servers("worker", browser_stack)
    html = httpx.get(f"{api.url}/upload").content
    copies = [_serve(html, ports.mirror), _serve(html, ports.foreign)]
    try:
        yield Site(
            browser_stack,
            api,
            key,
            mirror=ports.origin(ports.mirror),
            foreign=ports.origin(ports.foreign),
        )
    finally:
        for copy in copies:
            copy.shutdown()
            copy.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's 'chromium' package (make test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    page: Page
    console: Console


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A fresh profile (no storage shared with other tests) and its console."""
    context = browser.new_context(viewport={"width": 900, "height": 900})
    page = context.new_page()
    console = Console()
    page.on("console", console.on_message)
    page.on("pageerror", console.on_error)
    try:
        yield Tab(page, console)
    finally:
        context.close()


def write_file(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path
