"""AWS unreachable for 15 s mid-run (refused, black-holed, or hung): the worker
survives, reports not-ready meanwhile, recovers by itself, and every job completes."""

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from chute_core.settings import AwsSettings
from chute_ops.bootstrap import bootstrap
from chute_ops.teardown import teardown
from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account
from tests.support.polling import wait_until
from tests.support.processes import Server, start_moto
from tests.support.proxy import tcp_proxy
from tests.support.records import Records
from tests.support.stack import Stack, unique_pipeline
from tests.support.uploads import upload_many, wait_terminal

OUTAGE_SECONDS = 15.0
BATCH = 10


def ready(worker: Server) -> bool:
    try:
        return httpx.get(f"{worker.url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def ride_out(worker: Server, during: Callable[[], None]) -> float:
    """Hold the outage for OUTAGE_SECONDS, checking that the worker lives and says it
    is not ready; `during` runs once, inside the outage. Returns when it turned."""
    started = time.monotonic()
    wait_until(lambda: not ready(worker), timeout=10, what="worker reports not-ready")
    turned = time.monotonic() - started
    during()
    while time.monotonic() - started < OUTAGE_SECONDS:  # the outage is the condition
        assert worker.proc.poll() is None, "worker exited during the outage"
        assert not ready(worker)
        time.sleep(0.5)
    return turned


def finish(stack: Stack, worker: Server, api_url: str, job_ids: list[str]) -> None:
    wait_until(lambda: ready(worker), timeout=30, what="worker ready again")
    jobs = wait_terminal(stack, job_ids, timeout=90)
    assert worker.proc.poll() is None
    assert {j["state"] for j in jobs.values()} == {"SUCCEEDED"}
    result = account(stack, job_ids, [worker.log_path])
    assert (result.succeeded, result.duplicates, result.lost, result.dlq) == (
        len(job_ids),
        0,
        0,
        0,
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_worker_survives_a_cut_path_to_aws_and_completes_every_job(
    mode: str,
    make_stack: StackFactory,
    servers: ServerFactory,
    moto_server: Server,
    record_file: Path,
) -> None:
    stack = make_stack(visibility_timeout_seconds=5)
    api = servers("api", stack)
    port = int(moto_server.url.rsplit(":", 1)[1])
    with tcp_proxy(port) as proxy:
        worker = servers(
            "worker",
            stack,
            **recording_env(
                record_file,
                CHUTE_AWS_ENDPOINT_URL=proxy.url,
                CHUTE_TEST_SLEEP_SECONDS="1",
                CHUTE_WORKER_WAIT_SECONDS="2",
            ),
        )
        job_ids = upload_many(api.url, [f"before-{i}" for i in range(BATCH)])
        wait_until(lambda: Records.read(record_file).starts() > 0, timeout=20, what="work")
        proxy.set_mode(mode)
        turned = ride_out(
            worker,
            lambda: job_ids.extend(upload_many(api.url, [f"during-{i}" for i in range(BATCH)])),
        )
        proxy.set_mode("pass")
        print(f"{mode}: not-ready after {turned:.1f}s")
        finish(stack, worker, api.url, job_ids)


@pytest.fixture
def own_moto(tmp_path: Path) -> Iterator[tuple[Server, Stack]]:
    """A moto server of this test's own: SIGSTOP must not stall anyone else."""
    server = start_moto(tmp_path)
    stack = Stack(
        aws=AwsSettings(aws_endpoint_url=server.url),
        pipeline=unique_pipeline(visibility_timeout_seconds=5),
    )
    try:
        bootstrap(stack.aws, stack.pipeline)
        yield server, stack
    finally:
        server.proc.send_signal(signal.SIGCONT)
        teardown(stack.aws, stack.pipeline)
        server.stop()


@pytest.mark.slow
def test_worker_survives_a_hung_aws_and_completes_every_job(
    own_moto: tuple[Server, Stack], servers: ServerFactory, record_file: Path
) -> None:
    moto, stack = own_moto
    api = servers("api", stack)
    worker = servers(
        "worker",
        stack,
        **recording_env(record_file, CHUTE_TEST_SLEEP_SECONDS="1", CHUTE_WORKER_WAIT_SECONDS="2"),
    )
    job_ids = upload_many(api.url, [f"before-{i}" for i in range(2 * BATCH)])
    wait_until(lambda: Records.read(record_file).starts() > 0, timeout=20, what="work")
    moto.proc.send_signal(signal.SIGSTOP)
    try:
        turned = ride_out(worker, lambda: None)  # the API hangs too: no uploads meanwhile
    finally:
        moto.proc.send_signal(signal.SIGCONT)
    print(f"SIGSTOP: not-ready after {turned:.1f}s")
    finish(stack, worker, api.url, job_ids)
