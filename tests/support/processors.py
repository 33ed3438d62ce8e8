"""Processors for tests, loaded by workers as `tests.support.processors:NAME`."""

from __future__ import annotations

from typing import Any

from chute_worker.processors import ProcessorContext


class AlwaysFails:
    name = "always-fails"

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        raise RuntimeError("this processor always fails")
