"""What a processor gets: the job, the object (streamed or spooled), a result writer
and a deadline. `ProcessorContext` lives on the event loop; `FileContext` is its
picklable counterpart inside a pool process."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from chute_core.jobs import Job

if TYPE_CHECKING:
    from chute_worker.results import ResultSink
    from chute_worker.source import ObjectSource

__all__ = ["FileContext", "ProcessorContext", "check_result_name", "run_file_processor"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}){0,3}$")


def check_result_name(name: str) -> str:
    """Result names become key segments: plain relative names only, never `..`."""
    if not _NAME.match(name) or ".." in name:
        raise ValueError(f"invalid result name {name!r}")
    return name


@dataclass(frozen=True)
class ProcessorContext:
    job: Job
    processor: str
    content_type: str  # detected from the bytes (refined for text formats)
    deadline: float  # time.time() by which the processor must have returned
    source: ObjectSource
    sink: ResultSink

    @property
    def size(self) -> int:
        return self.source.size

    def time_left(self) -> float:
        return self.deadline - time.time()

    def read(self) -> AsyncIterator[bytes]:
        """The object's bytes, streamed in chunks (bounded memory)."""
        return self.source.read()

    async def spool(self) -> Path:
        """A local copy of the object (once per job, within the worker's disk budget)."""
        return await self.source.spool()

    async def write_result(self, name: str, body: bytes, content_type: str) -> str:
        """Store `body` as results/{tenant}/{job_id}/{processor}/{name}; names are
        deterministic, so a repeated attempt overwrites rather than duplicates."""
        return await self.sink.write(self.processor, check_result_name(name), body, content_type)


@dataclass
class FileContext:
    job: Job
    processor: str
    content_type: str
    deadline: float
    path: Path
    out_dir: Path
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (name, content type)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def time_left(self) -> float:
        return self.deadline - time.time()

    def open(self) -> IO[bytes]:
        return self.path.open("rb")

    def write_result(self, name: str, body: bytes, content_type: str) -> None:
        """Stage a result object; the worker uploads it once the processor returns."""
        target = self.out_dir / check_result_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        self.outputs.append((name, content_type))


def run_file_processor(
    processor: object, ctx: FileContext
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """The pool's entry point: run a CPU-bound processor, return its summary and the
    result files it staged."""
    summary = processor.process_file(ctx)  # type: ignore[attr-defined]
    return summary, ctx.outputs
