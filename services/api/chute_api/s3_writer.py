"""Stream bytes into one S3 object with bounded memory.

A body that fits in one part becomes a single PutObject (no multipart round trips);
a larger one becomes a multipart upload. Memory stays within one and a quarter parts
whatever the object's size (what upload_budget.py reserves): one part in flight to S3
while at most a quarter of the next is read, then reading waits for the part to land
(measured: the same throughput as pausing at half a part, against moto).

Chunks are kept as they arrive and joined once into the part's `bytes`: aiohttp slices
the body to its Content-Length, which copies a bytearray (a whole part more for every
part in flight) and not bytes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.handlers import convert_body_to_file_like_object

from chute_api.errors import DigestMismatch, EmptyUpload, UploadTooLarge
from chute_api.multipart import PartSender

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["ObjectWriter", "StoredObject", "send_bodies_uncopied", "storable_type"]


def send_bodies_uncopied(s3: S3Client) -> None:
    """Let PutObject and UploadPart send a bytes body as it is. botocore wraps it in a
    BytesIO (which shares the bytes), then aiohttp's BytesIOPayload calls getbuffer(),
    which unshares it: a copy of every part while it is in flight (seen with
    tracemalloc). aiohttp sends bytes without copying, and botocore signs, checksums
    and retries a bytes body as well as a file."""
    for operation in ("UploadPart", "PutObject"):
        s3.meta.events.unregister(
            f"before-parameter-build.s3.{operation}", convert_body_to_file_like_object
        )


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256: str
    etag: str


def storable_type(content_type: str) -> str:
    # curl --data-binary sends form-urlencoded by default; stored as such, moto's server
    # parses the PutObject body as a form and keeps 0 bytes. It is never a file's real
    # type, so the object gets octet-stream (the job record keeps the type as sent).
    if content_type.lower().startswith("application/x-www-form-urlencoded"):
        return "application/octet-stream"
    return content_type


class ObjectWriter:
    def __init__(
        self,
        s3: S3Client,
        *,
        bucket: str,
        key: str,
        content_type: str,
        metadata: dict[str, str],
        part_size: int,
        max_bytes: int,
        expected_sha256: str | None = None,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._content_type = storable_type(content_type)
        self._metadata = metadata
        self._part_size = part_size
        self._max_bytes = max_bytes
        self._expected = expected_sha256
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._parts: list[CompletedPartTypeDef] = []
        self._sender = PartSender(
            s3, bucket=bucket, key=key, content_type=self._content_type, metadata=metadata
        )

    async def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max_bytes:
            raise UploadTooLarge(f"upload exceeds the limit of {self._max_bytes} bytes")
        self._sha256.update(data)
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= self._part_size:
            # The whole buffer is the part (at least part_size, which is all S3 asks of
            # every part but the last).
            await self._send_part(self._take())
        elif self._sender.busy and self._buffered >= self._part_size // 4:
            await self._sender.settle()  # a quarter part read while one is in flight

    def _take(self) -> bytes:
        part = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return part

    async def _send_part(self, part: bytes) -> None:
        number = len(self._parts) + 1
        self._parts.append({"PartNumber": number})

        async def landed(etag: str, checksum: str) -> None:
            self._parts[number - 1]["ETag"] = etag
            self._parts[number - 1]["ChecksumSHA256"] = checksum

        # The part's SHA-256 is computed in a thread while the next part is read; S3
        # verifies it on receipt (moto stores it without checking).
        await self._sender.send(number, part, landed)

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of every byte written so far."""
        return self._sha256.hexdigest()

    def require_content(self) -> None:
        if self._size == 0:
            raise EmptyUpload("the upload has no content")

    def verify(self) -> None:
        """DigestMismatch unless the bytes so far hash to the digest the client sent."""
        if self._expected is not None and self._expected != self.sha256:
            raise DigestMismatch(
                f"the body's SHA-256 is {self.sha256}, the request said {self._expected}"
            )

    async def finish(self) -> StoredObject:
        """Write what is left and make the object visible; EmptyUpload for no bytes at all."""
        self.require_content()
        self.verify()  # before the object becomes visible: a mismatch leaves nothing
        upload_id = self._sender.upload_id
        if upload_id is None:
            put = await self._s3.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=self._take(),
                ContentType=self._content_type,
                Metadata=self._metadata,
                ChecksumSHA256=base64.b64encode(self._sha256.digest()).decode(),
            )
            etag = put["ETag"]
        else:
            if self._chunks:
                await self._send_part(self._take())
            await self._sender.settle()
            done = await self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            etag = done["ETag"]
        return StoredObject(size=self._size, sha256=self._sha256.hexdigest(), etag=etag.strip('"'))

    async def abort(self) -> None:
        """Leave nothing behind: abort the multipart upload (parts included)."""
        self._chunks.clear()
        await self._sender.abort()
