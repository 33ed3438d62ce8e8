"""Shared fixtures: one moto server per session; resources and servers per test
(`stack`, `servers`) or per module (`module_stack`, `module_servers`) where the
tests only add jobs and never assert on the whole bucket."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chute_core.settings import AwsSettings
from chute_ops.bootstrap import bootstrap
from chute_ops.teardown import teardown
from tests.support.processes import Server, start_api, start_moto, start_reconciler, start_worker
from tests.support.stack import Stack, unique_pipeline

# moto accepts any credentials; real ones must never reach a test.
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)
for _name in [n for n in os.environ if n.startswith("CHUTE_")]:
    del os.environ[_name]

StackFactory = Callable[..., Stack]
# The black-box folders and every test that starts API or worker processes are the slow
# tier; `make test-fast` runs the rest (`-m "not slow"`), `make test` runs everything.
SLOW_FOLDERS = frozenset({"browser", "e2e", "faults"})
PROCESS_FIXTURES = frozenset({"servers", "module_servers"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(here).parts[0] if item.path.is_relative_to(here) else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        if folder in SLOW_FOLDERS or fixtures & PROCESS_FIXTURES:
            item.add_marker(pytest.mark.slow)


ServerFactory = Callable[..., Server]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws(moto_server: Server) -> AwsSettings:
    return AwsSettings(aws_endpoint_url=moto_server.url)


@contextmanager
def _stacks(aws: AwsSettings) -> Iterator[StackFactory]:
    made: list[Stack] = []

    def make(**pipeline_overrides: Any) -> Stack:
        stack = Stack(aws=aws, pipeline=unique_pipeline(**pipeline_overrides))
        made.append(stack)
        bootstrap(stack.aws, stack.pipeline)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            teardown(stack.aws, stack.pipeline)


@contextmanager
def _servers(log_dir: Path) -> Iterator[ServerFactory]:
    started: list[Server] = []

    def start(kind: str, stack: Stack, **env: str) -> Server:
        starter = {"api": start_api, "worker": start_worker, "reconciler": start_reconciler}[kind]
        server = starter({**stack.env, **env}, log_dir)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def make_stack(aws: AwsSettings) -> Iterator[StackFactory]:
    with _stacks(aws) as make:
        yield make


@pytest.fixture
def stack(make_stack: StackFactory) -> Stack:
    return make_stack()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start API or worker processes; all are stopped when the test ends."""
    with _servers(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def module_stack(aws: AwsSettings) -> Iterator[Stack]:
    with _stacks(aws) as make:
        yield make()


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    with _servers(tmp_path_factory.mktemp("servers")) as start:
        yield start
