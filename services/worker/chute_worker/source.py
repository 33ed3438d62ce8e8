"""One job's object: its head for type detection, a stream, or a spooled local copy."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles

from chute_core.errors import ProcessorError
from chute_worker.spool import SpoolArea

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["ObjectSource"]

READ_CHUNK = 1024 * 1024


class ObjectSource:
    """Use as an async context manager: leaving it removes the job's local files."""

    def __init__(
        self, *, s3: S3Client, bucket: str, key: str, size: int, spool_area: SpoolArea, job_id: str
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.size = size
        self._area = spool_area
        self._job_id = job_id
        self._stack = AsyncExitStack()
        self._directory: Path | None = None
        self._spooled: Path | None = None

    async def __aenter__(self) -> ObjectSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def workdir(self) -> Path:
        """A private directory for this job's files, removed with the source."""
        if self._directory is None:
            directory = self._area.job_directory(self._job_id)
            self._stack.callback(lambda: _remove_tree(directory))
            self._directory = directory
        return self._directory

    async def head(self, limit: int) -> bytes:
        if self.size == 0:
            return b""
        if self._spooled is not None:
            async with aiofiles.open(self._spooled, "rb") as f:
                return await f.read(limit)
        response = await self.s3.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes=0-{limit - 1}"
        )
        async with response["Body"] as body:
            return await body.read()

    async def read(self) -> AsyncIterator[bytes]:
        if self._spooled is not None:
            async with aiofiles.open(self._spooled, "rb") as f:
                while chunk := await f.read(READ_CHUNK):
                    yield chunk
            return
        response = await self.s3.get_object(Bucket=self.bucket, Key=self.key)
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def spool(self) -> Path:
        if self._spooled is not None:
            return self._spooled
        await self._stack.enter_async_context(self._area.reserve(self.size))
        target = (await self.workdir()) / "object"
        written = 0
        async with aiofiles.open(target, "wb") as f:
            async for chunk in self.read():
                written += len(chunk)
                if written > self.size:
                    raise ProcessorError(
                        "object_changed",
                        f"the object grew past the {self.size} bytes it was reported at",
                        retryable=True,
                    )
                await f.write(chunk)
        self._spooled = target
        return target


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
