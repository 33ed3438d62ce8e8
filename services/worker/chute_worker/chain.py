"""Run one job's processors in order and record each one's outcome.

The object is looked at once for its type (a ranged GET of its head, skipped when
routing does not depend on the type), streamed or spooled per processor, and every
local file is removed when the chain ends, whatever happened."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiofiles

from chute_core.content_types import SNIFF_BYTES, detect_type, matches, refine_type
from chute_core.errors import ChuteError, ProcessorError
from chute_core.events import ObjectCreated
from chute_core.jobs import Job, JobError, ProcessingResult, ProcessorStep, StepOutcome
from chute_core.keys import ObjectKeys
from chute_worker import metrics
from chute_worker.failures import classify
from chute_worker.pool import ProcessorPool
from chute_worker.processors import FileProcessor, Processor
from chute_worker.processors.context import FileContext, ProcessorContext, run_file_processor
from chute_worker.processors.registry import Registry
from chute_worker.results import ResultSink
from chute_worker.routing import Router
from chute_worker.source import ObjectSource
from chute_worker.spool import SpoolArea

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["ChainFailed", "ProcessorChain"]

SUMMARY_LIMIT = 32 * 1024  # bytes of JSON per processor summary kept in the job record


class ChainFailed(ChuteError):
    """The chain stopped at a failure; `result` holds the steps that ran up to it."""

    def __init__(self, error: ProcessorError, result: ProcessingResult) -> None:
        super().__init__(str(error))
        self.error = error
        self.result = result


@dataclass(frozen=True)
class ProcessorChain:
    registry: Registry
    router: Router
    pool: ProcessorPool
    spool: SpoolArea
    s3: S3Client
    keys: ObjectKeys

    async def run(self, job: Job, record: ObjectCreated) -> ProcessingResult:
        size = record.size if record.size is not None else await self._size(record)
        source = ObjectSource(
            s3=self.s3,
            bucket=record.bucket,
            key=record.key,
            size=size,
            spool_area=self.spool,
            job_id=job.job_id,
        )
        result = ProcessingResult()
        async with source:
            try:
                await self._run(job, source, result)
            except ChainFailed:
                raise
            except ProcessorError as exc:  # before any processor ran (type, routing)
                raise ChainFailed(exc, result) from exc
        return result

    async def _run(self, job: Job, source: ObjectSource, result: ProcessingResult) -> None:
        if self.router.needs_type(job):
            head = await source.head(SNIFF_BYTES)
            result.content_type = refine_type(
                detect_type(head), job.object.content_type, job.object.filename
            )
        names, explicit = self.router.select(job, result.content_type or "*/*")
        sink = ResultSink(s3=self.s3, bucket=source.bucket, keys=self.keys, job=job)
        for name in names:
            processor = self.registry.get(name)
            if processor is None:
                raise ProcessorError(
                    "unknown_processor",
                    f"this worker has no processor {name!r} "
                    f"(installed: {', '.join(self.registry.names())})",
                    retryable=False,
                )
            ctype = result.content_type
            if not explicit and ctype is not None and not matches(ctype, processor.spec.accepts):
                result.processors.append(
                    ProcessorStep(
                        name=name,
                        outcome=StepOutcome.SKIPPED,
                        reason=f"does not accept {result.content_type}",
                    )
                )
                continue
            started = time.monotonic()
            try:
                refusal = self._refusal(processor, ctype, source.size)
                if refusal is not None:
                    raise refusal
                summary = await self._run_one(processor, job, result.content_type, source, sink)
                summary = self._checked(name, summary, sink.written.get(name, []))
            except Exception as exc:
                error = classify(exc)
                step = _finished(name, StepOutcome.FAILED, started)
                step.error = JobError.from_exception(error)
                result.processors.append(step)
                raise ChainFailed(error, result) from exc
            step = _finished(name, StepOutcome.SUCCEEDED, started)
            step.summary = summary
            result.processors.append(step)

    @staticmethod
    def _refusal(
        processor: Processor, content_type: str | None, size: int
    ) -> ProcessorError | None:
        spec = processor.spec
        if content_type is not None and not matches(content_type, spec.accepts):
            return ProcessorError(
                "unsupported_type",
                f"{spec.name} accepts {', '.join(spec.accepts)}, not {content_type}",
                retryable=False,
            )
        if spec.max_input_bytes is not None and size > spec.max_input_bytes:
            return ProcessorError(
                "input_too_large",
                f"{spec.name} takes at most {spec.max_input_bytes} bytes; the object has {size}",
                retryable=False,
            )
        return None

    async def _run_one(
        self,
        processor: Processor,
        job: Job,
        content_type: str | None,
        source: ObjectSource,
        sink: ResultSink,
    ) -> dict[str, Any]:
        spec = processor.spec
        deadline = time.time() + spec.timeout_seconds
        kind = content_type or job.object.content_type or "application/octet-stream"
        if isinstance(processor, FileProcessor) and spec.cpu_bound:
            path = await source.spool()
            out_dir = (await source.workdir()) / spec.name
            ctx = FileContext(
                job=job,
                processor=spec.name,
                content_type=kind,
                deadline=deadline,
                path=path,
                out_dir=out_dir,
            )
            summary, outputs = await self.pool.run(
                run_file_processor,
                processor,
                ctx,
                limit_seconds=spec.timeout_seconds,
                name=spec.name,
            )
            for name, output_type in outputs:
                async with aiofiles.open(out_dir / name, "rb") as f:
                    body = await f.read()
                await sink.write(spec.name, name, body, output_type)
            return summary
        async_ctx = ProcessorContext(
            job=job,
            processor=spec.name,
            content_type=kind,
            deadline=deadline,
            source=source,
            sink=sink,
        )
        try:
            async with asyncio.timeout(spec.timeout_seconds) as scope:
                return await processor.process(async_ctx)  # type: ignore[union-attr]
        except TimeoutError:
            if not scope.expired():
                raise
            raise ProcessorError(
                "processor_timeout",
                f"{spec.name} ran longer than {spec.timeout_seconds:.1f} s",
                retryable=True,
            ) from None

    @staticmethod
    def _checked(name: str, summary: dict[str, Any], objects: list[str]) -> dict[str, Any]:
        if not isinstance(summary, dict):
            raise ProcessorError(
                "processor_error",
                f"{name} returned {type(summary).__name__}, not a dict",
                retryable=False,
            )
        if objects:
            summary = {**summary, "objects": objects}
        encoded = json.dumps(summary, default=str)
        if len(encoded) > SUMMARY_LIMIT:
            raise ProcessorError(
                "summary_too_large",
                f"{name}'s summary is {len(encoded)} bytes of JSON (limit {SUMMARY_LIMIT}); "
                "put detail in a result object",
                retryable=False,
            )
        return json.loads(encoded)  # type: ignore[no-any-return]

    async def _size(self, record: ObjectCreated) -> int:
        head = await self.s3.head_object(Bucket=record.bucket, Key=record.key)
        return head["ContentLength"]


def _finished(name: str, outcome: StepOutcome, started: float) -> ProcessorStep:
    """The step record of a processor run that ended, counted in the metrics."""
    seconds = time.monotonic() - started
    metrics.JOB_PROCESSING.labels(processor=name).observe(seconds)
    metrics.PROCESSOR_RUNS.labels(processor=name, outcome=outcome.value).inc()
    return ProcessorStep(name=name, outcome=outcome, seconds=round(seconds, 4))
