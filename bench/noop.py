"""A processor that does nothing, so a worker benchmark measures the worker itself."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from chute_worker.processors import ProcessorContext, ProcessorSpec

SLEEP = float(os.environ.get("BENCH_PROCESSOR_SECONDS", "0"))


class Noop:
    spec = ProcessorSpec(name="noop")

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        if SLEEP:
            await asyncio.sleep(SLEEP)  # an I/O-bound processor's wait
        return {}
