"""Processors for tests, loaded by workers as `tests.support.processors:NAME`.

Their behaviour is steered by environment variables of the worker process:
CHUTE_TEST_RECORD_FILE   append a JSON line at each start and end (pid, job, time)
CHUTE_TEST_SLEEP_SECONDS how long `Recording` waits before inspecting (I/O-bound work)
CHUTE_TEST_SLOW_PREFIX   with CHUTE_TEST_SLOW_SECONDS: files named so wait that long
CHUTE_TEST_BROKEN_FLAG   `BrokenWhileFlag` fails while this file exists
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

from chute_core.errors import ProcessorError
from chute_worker.processors import FileContext, ProcessorContext, ProcessorSpec
from chute_worker.processors.inspect import InspectProcessor


class AlwaysFails:
    spec = ProcessorSpec(name="always-fails")

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        raise RuntimeError("this processor always fails")


def _record(event: str, ctx: ProcessorContext) -> None:
    path = os.environ.get("CHUTE_TEST_RECORD_FILE")
    if not path:
        return
    line = json.dumps({"event": event, "job": ctx.job.job_id, "pid": os.getpid(), "t": time.time()})
    # O_APPEND writes of one short line are atomic across processes.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class Recording(InspectProcessor):
    """`inspect`, bracketed by start/end records, after an I/O-bound wait."""

    spec = ProcessorSpec(name="recording")

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        _record("start", ctx)
        seconds = float(os.environ.get("CHUTE_TEST_SLEEP_SECONDS", "0"))
        slow_prefix = os.environ.get("CHUTE_TEST_SLOW_PREFIX")
        if slow_prefix and (ctx.job.object.filename or "").startswith(slow_prefix):
            seconds = float(os.environ["CHUTE_TEST_SLOW_SECONDS"])
        elif seconds:
            seconds = random.uniform(seconds / 2, seconds)
        await asyncio.sleep(seconds)
        summary = await super().process(ctx)
        _record("end", ctx)
        return summary


class BrokenWhileFlag(InspectProcessor):
    spec = ProcessorSpec(name="broken-while-flag")

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        if os.path.exists(os.environ["CHUTE_TEST_BROKEN_FLAG"]):  # noqa: ASYNC240 (a stat)
            raise ProcessorError("downstream_unavailable", "dependency is broken", retryable=True)
        return await super().process(ctx)


class Misbehaving:
    """CPU-bound, in the pool: files named spin* loop forever (killed at the timeout,
    CHUTE_TEST_TIMEOUT_SECONDS), crash* kill their pool process, others report size."""

    spec = ProcessorSpec(
        name="misbehaving",
        cpu_bound=True,
        timeout_seconds=float(os.environ.get("CHUTE_TEST_TIMEOUT_SECONDS", "2")),
    )

    def process_file(self, ctx: FileContext) -> dict[str, Any]:
        name = ctx.job.object.filename or ""
        if name.startswith("spin"):
            while True:
                pass
        if name.startswith("crash"):
            os._exit(3)
        return {"size": ctx.size, "pid": os.getpid()}
