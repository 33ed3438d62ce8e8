"""The processor interface.

A processor declares a `spec` (name, accepted content types, limits, CPU-bound or
not) and does its work in one of two shapes:

* I/O-bound (`cpu_bound=False`): `async def process(ctx: ProcessorContext)` runs on the
  worker's event loop; `ctx.read()` streams the object, `ctx.spool()` gives a local
  copy within the disk budget, `ctx.write_result()` stores result objects.
* CPU-bound (`cpu_bound=True`): `def process_file(ctx: FileContext)` runs in the
  worker's process pool on a spooled local copy, so the event loop keeps polling,
  heartbeating and answering health checks. Result files written with
  `ctx.write_result()` are uploaded by the worker afterwards. The processor object is
  pickled to the pool: keep its state to plain settings.

Either returns a small JSON-able summary (stored in the job's `result`). Raise
`chute_core.errors.ProcessorError` with a code for a known failure: retryable=False
for bad input (`corrupt_input`, ...), True for what another attempt could fix.
Result objects land under `results/{tenant}/{job_id}/{processor}/{name}`.

Processors register in the `chute.processors` entry-point group: the entry point's
value is a zero-argument factory (usually the class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from chute_worker.processors.context import FileContext, ProcessorContext

__all__ = [
    "AsyncProcessor",
    "FileContext",
    "FileProcessor",
    "Processor",
    "ProcessorContext",
    "ProcessorSpec",
]

MiB = 1024 * 1024


@dataclass(frozen=True)
class ProcessorSpec:
    name: str
    accepts: tuple[str, ...] = ("*/*",)  # content-type patterns: image/*, text/csv, */*
    max_input_bytes: int | None = None  # larger objects fail as input_too_large
    timeout_seconds: float = 300.0
    cpu_bound: bool = False
    description: str = ""


@runtime_checkable
class AsyncProcessor(Protocol):
    spec: ProcessorSpec

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]: ...


@runtime_checkable
class FileProcessor(Protocol):
    spec: ProcessorSpec

    def process_file(self, ctx: FileContext) -> dict[str, Any]: ...


Processor = AsyncProcessor | FileProcessor
