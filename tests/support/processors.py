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
from chute_worker.processors import ProcessorContext
from chute_worker.processors.inspect import InspectProcessor


class AlwaysFails:
    name = "always-fails"

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

    name = "recording"

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
    name = "broken-while-flag"

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        if os.path.exists(os.environ["CHUTE_TEST_BROKEN_FLAG"]):  # noqa: ASYNC240 (a stat)
            raise ProcessorError("downstream_unavailable", "dependency is broken", retryable=True)
        return await super().process(ctx)
