"""A CPU-bound processor that hangs or dies takes only its own job down: the pool
process is replaced, the job is retried and then FAILED, and other jobs flow on."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.support.jobs_api import post_file, steps, wait_job
from tests.support.processes import Server, routes, run_chute

TIMEOUT_SECONDS = 1.0
MAX_RECEIVES = 2


@dataclass
class Pipeline:
    api: Server
    worker: Server


@pytest.fixture(params=[MAX_RECEIVES])
def pipeline(
    request: pytest.FixtureRequest, make_stack: StackFactory, servers: ServerFactory
) -> Pipeline:
    stack = make_stack(visibility_timeout_seconds=5, max_receive_count=request.param)
    api = servers("api", stack)
    worker = servers(
        "worker",
        stack,
        CHUTE_WORKER_ROUTES=routes("tests.support.processors:Misbehaving"),
        CHUTE_TEST_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        CHUTE_WORKER_POOL_SIZE="2",
        CHUTE_RETRY_BASE_SECONDS="0.5",
        CHUTE_RETRY_MAX_SECONDS="1",
    )
    return Pipeline(api, worker)


def test_processor_over_its_timeout_is_killed_retried_then_failed_while_others_finish(
    pipeline: Pipeline,
) -> None:
    spinning = post_file(pipeline.api.url, "spin.bin", b"x" * 100)
    started = time.monotonic()
    others = [post_file(pipeline.api.url, f"ok-{i}.bin", b"y" * 100) for i in range(6)]
    finished = [wait_job(pipeline.api.url, j, timeout=30) for j in others]
    others_done = time.monotonic()
    job = wait_job(pipeline.api.url, spinning, timeout=60)
    spin_done = time.monotonic()
    assert [j["state"] for j in finished] == ["SUCCEEDED"] * len(others)
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "processor_timeout"
    assert job["attempts"] == MAX_RECEIVES
    assert steps(job)["misbehaving"]["outcome"] == "failed"
    # Each attempt ran into the timeout: the job cannot end sooner than two of them.
    assert spin_done - started >= MAX_RECEIVES * TIMEOUT_SECONDS
    assert others_done < spin_done
    # The killed pool process was replaced: the pool still runs jobs afterwards.
    after = post_file(pipeline.api.url, "ok-after.bin", b"z")
    assert wait_job(pipeline.api.url, after, timeout=30)["state"] == "SUCCEEDED"


@pytest.mark.parametrize("pipeline", [5], indirect=True)  # the queue would allow 5 receives
def test_processor_that_kills_its_pool_process_fails_its_job_after_one_retry(
    pipeline: Pipeline,
) -> None:
    crashing = post_file(pipeline.api.url, "crash.bin", b"x")
    job = wait_job(pipeline.api.url, crashing, timeout=60)
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "processor_crashed"
    assert job["attempts"] == 2  # retried once
    survivor = post_file(pipeline.api.url, "ok.bin", b"y")
    assert wait_job(pipeline.api.url, survivor, timeout=30)["state"] == "SUCCEEDED"
    assert pipeline.worker.proc.poll() is None  # the worker itself lives on


def test_processors_list_shows_builtins_and_the_installed_example_plugin() -> None:
    listed = run_chute("processors", "list", "--json", env={})
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert {"inspect", "thumbnail", "archive", "tabular", "wordcount"} <= set(rows)
    assert rows["wordcount"]["origin"].startswith("chute-processor-wordcount")
    assert rows["thumbnail"]["kind"] == "cpu (pool)"
    table = run_chute("processors", "list", env={})
    assert "wordcount" in table.stdout
    assert "image/*" in table.stdout  # the routes


def test_processors_list_with_a_bad_route_is_one_readable_line() -> None:
    listed = run_chute("processors", "list", env={"CHUTE_WORKER_ROUTES": '{"*/*": ["nope"]}'})
    assert listed.returncode != 0
    assert listed.stderr.strip().splitlines() == [
        "chute: error: unknown processor 'nope'; installed: "
        "archive, inspect, tabular, thumbnail, wordcount"
    ]
