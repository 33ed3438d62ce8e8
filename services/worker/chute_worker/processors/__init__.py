"""The processor interface and how processors are found.

A processor is any object with a `name` and an async `process(ctx)` returning a small
JSON-able summary. Processors register in the `chute.processors` entry-point group;
a `module:attribute` reference also works (handy for tests and experiments).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from chute_core.errors import ChuteError
from chute_core.jobs import Job
from chute_core.keys import ObjectKeys

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["Processor", "ProcessorContext", "load_processor"]

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ProcessorContext:
    job: Job
    bucket: str
    key: str
    keys: ObjectKeys
    s3: S3Client

    async def read(self) -> AsyncIterator[bytes]:
        """The object's bytes, streamed in chunks (bounded memory)."""
        response = await self.s3.get_object(Bucket=self.bucket, Key=self.key)
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def write_result(self, name: str, body: bytes, content_type: str) -> str:
        """Put a result object under results/{tenant}/{job_id}/{name}; the key is
        deterministic, so a repeated run overwrites rather than duplicates."""
        key = self.keys.result(self.job.tenant, self.job.job_id, name)
        await self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        return key


class Processor(Protocol):
    name: str

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]: ...


def load_processor(reference: str) -> Processor:
    """Instantiate the processor named `reference` (entry-point name or module:attr)."""
    if ":" in reference:
        module, _, attr = reference.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    else:
        matches = entry_points(group="chute.processors", name=reference)
        if not matches:
            known = sorted(e.name for e in entry_points(group="chute.processors"))
            raise ChuteError(f"unknown processor {reference!r}; installed: {', '.join(known)}")
        factory = next(iter(matches)).load()
    processor: Processor = factory()
    return processor
