"""One S3 multipart upload fed one part at a time: the upload is created with the first
part, each part's SHA-256 is computed in a thread and checked by S3 on receipt, and at
most one part is in flight, which is what bounds a writer's memory (`s3_writer.py` for
streamed uploads, `tus_appender.py` for tus PATCHes)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["Landed", "PartSender"]

# Called once a part is stored, with its ETag and base64 SHA-256.
Landed = Callable[[str, str], Awaitable[None]]


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class PartSender:
    def __init__(
        self,
        s3: S3Client,
        *,
        bucket: str,
        key: str,
        content_type: str,
        metadata: dict[str, str],
        upload_id: str | None = None,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._metadata = metadata
        self.upload_id = upload_id
        self._in_flight: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    async def begin(self) -> str:
        """The multipart upload's id, created on first use."""
        if self.upload_id is None:
            created = await self._s3.create_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                ContentType=self._content_type,
                Metadata=self._metadata,
                ChecksumAlgorithm="SHA256",
            )
            self.upload_id = created["UploadId"]
        return self.upload_id

    async def send(self, number: int, part: bytes, landed: Landed) -> None:
        """Start sending part `number` once the previous one has landed."""
        await self.begin()
        await self.settle()
        self._in_flight = asyncio.create_task(self._upload(number, part, landed))

    async def _upload(self, number: int, part: bytes, landed: Landed) -> None:
        assert self.upload_id is not None
        checksum = await asyncio.to_thread(_b64_sha256, part)
        response = await self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=part,
            ChecksumSHA256=checksum,
        )
        await landed(response["ETag"], checksum)

    async def settle(self) -> None:
        """Wait for the part in flight (its failure is raised here)."""
        if self._in_flight is not None:
            task, self._in_flight = self._in_flight, None
            await task

    async def cancel(self) -> None:
        """Stop the part in flight, if any, and wait for it to be gone."""
        if self._in_flight is not None:
            self._in_flight.cancel()
            await asyncio.gather(self._in_flight, return_exceptions=True)
            self._in_flight = None

    async def abort(self) -> None:
        """Cancel, then abort the multipart upload (its parts go with it)."""
        await self.cancel()
        if self.upload_id is not None:
            await self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self.upload_id
            )
            self.upload_id = None
