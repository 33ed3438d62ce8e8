"""Append one tus PATCH's bytes to an upload that S3 holds in two pieces: the parts of a
multipart upload, and a tail object of the bytes short of S3's 5 MiB minimum part.

The request starts from the tail (read back into memory), fills parts of `part_bytes`
and sends each while it reads on (at most a quarter part ahead, as `s3_writer.py`), and
at the end leaves what is over as a part (5 MiB or more) or as a new tail object, under
a key of its own: a request that loses its lock can never overwrite the tail another
committed. The SHA-256 of the whole file is carried across requests and replicas as its
serialized state (`rehashes`), so it costs no second read of the object.

Memory: one part in flight and a quarter part being read, as `upload_budget.py`
reserves; the tail is below one part and becomes the start of the next.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from rehashes import PySha256

from chute_api.multipart import PartSender
from chute_api.s3_writer import StoredObject
from chute_core.aws import error_code
from chute_core.content_types import SNIFF_BYTES
from chute_core.jobs import Job, ResumableUpload
from chute_core.logs import get_logger

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["S3_MIN_PART_BYTES", "Appender", "delete_tail", "remove_bytes"]

S3_MIN_PART_BYTES = 5 * 1024 * 1024  # every part but the last (S3's rule)

log = get_logger(__name__)
Committer = Callable[[ResumableUpload], Awaitable[None]]


class Appender:
    def __init__(
        self,
        s3: S3Client,
        *,
        bucket: str,
        key: str,
        tail_key: str,
        content_type: str,
        metadata: dict[str, str],
        progress: ResumableUpload,
        part_bytes: int,
        check_head: Callable[[bytes], None],
        commit: Committer | None,
    ) -> None:
        """`progress` is the committed state; `commit` (None: commit nothing before the
        end, for a chunk that must pass its checksum first) is called after each part
        lands; `check_head` sees the file's first bytes once, before any part is sent."""
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._tail_key = tail_key
        self._content_type = content_type
        self._metadata = metadata
        self._base = progress
        self._stored = progress  # as of the last part that landed
        self._committed = progress  # as of the last commit
        self._part_bytes = part_bytes
        self._check_head = check_head
        self._commit = commit
        state = progress.hash_state
        self._hasher = PySha256.deserialize(base64.b64decode(state)) if state else PySha256()
        self._sender = PartSender(
            s3,
            bucket=bucket,
            key=key,
            content_type=content_type,
            metadata=metadata,
            upload_id=progress.upload_id,
        )
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._sent_parts = progress.parts
        self._sent_bytes = progress.parts_bytes
        self.received = 0  # bytes of this request's body
        self.wrote_tail = False

    @property
    def offset(self) -> int:
        """The file's bytes seen so far: the committed ones and this request's."""
        return self._base.offset + self.received

    async def load_tail(self) -> None:
        """Start from the bytes the last request left short of a part."""
        if self._base.tail_key is None:
            return
        answer = await self._s3.get_object(Bucket=self._bucket, Key=self._base.tail_key)
        async with answer["Body"] as body:
            tail = await body.read()
        if len(tail) != self._base.tail_bytes:
            raise RuntimeError(
                f"tail {self._base.tail_key} holds {len(tail)} bytes, "
                f"the record {self._base.tail_bytes}"
            )
        self._chunks, self._buffered = [tail], len(tail)

    async def write(self, data: bytes) -> None:
        self.received += len(data)
        self._hasher.update(data)
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= self._part_bytes:
            await self._send_part(self._take())
        elif self._sender.busy and self._buffered >= self._part_bytes // 4:
            await self._sender.settle()

    def _take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return data

    def _head_checked(self, data: bytes, *, whole: bool) -> bool:
        """Check the file's first bytes once, when enough of them are here."""
        if self._base.type_checked or self._sent_bytes > 0:
            return True
        if len(data) < SNIFF_BYTES and not whole:
            return False
        self._check_head(data[:SNIFF_BYTES])
        return True

    def _after(self, *, parts_bytes: int, offset: int, tail_key: str | None) -> ResumableUpload:
        return self._base.model_copy(
            update={
                "parts": self._sent_parts,
                "parts_bytes": parts_bytes,
                "offset": offset,
                "upload_id": self._sender.upload_id,
                "tail_key": tail_key,
                "hash_state": base64.b64encode(self._hasher.serialize()).decode(),
                "type_checked": True,
            }
        )

    async def _send_part(self, part: bytes) -> None:
        self._head_checked(part, whole=True)
        await self._sender.begin()  # the progress below names the upload
        await self._sender.settle()  # its part's progress is committed before the next one's
        self._sent_parts += 1
        self._sent_bytes += len(part)
        # The state now covers exactly the bytes up to the part's end: nothing is buffered.
        after = self._after(parts_bytes=self._sent_bytes, offset=self._sent_bytes, tail_key=None)

        async def landed(_etag: str, _checksum: str) -> None:
            if self._commit is not None:
                await self._commit(after)
                self._committed = after
            self._stored = after

        await self._sender.send(self._sent_parts, part, landed)

    async def keep(self) -> ResumableUpload:
        """Store what is buffered so the upload can resume after it: as a part when S3
        takes it as one, else as a new tail object. The progress to commit."""
        await self._sender.settle()
        if self.received == 0:
            return self._base
        if self._buffered >= S3_MIN_PART_BYTES:
            await self._send_part(self._take())
            await self._sender.settle()
            return self._stored
        if self._buffered == 0:
            return self._stored
        data = self._take()
        checked = self._head_checked(data, whole=False)
        await self._s3.put_object(Bucket=self._bucket, Key=self._tail_key, Body=data)
        self.wrote_tail = True
        kept = self._after(
            parts_bytes=self._sent_bytes,
            offset=self._sent_bytes + len(data),
            tail_key=self._tail_key,
        )
        return kept if checked else kept.model_copy(update={"type_checked": False})

    async def complete(self) -> tuple[ResumableUpload, StoredObject]:
        """The last byte is here: make the object, whole, under the upload's key."""
        await self._sender.settle()
        data = self._take()
        if self._sender.upload_id is None:
            self._head_checked(data, whole=True)
            sha256 = self._hasher.finalize()
            put = await self._s3.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=data,
                ContentType=self._content_type,
                Metadata=self._metadata,
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
            )
            etag = put["ETag"]
        else:
            if data:
                await self._send_part(data)
                await self._sender.settle()
            sha256 = self._hasher.finalize()  # after the last part's state was taken
            etag = await self._complete_multipart()
        size = self._sent_bytes if self._sender.upload_id else len(data)
        done = self._base.model_copy(
            update={
                "offset": size,
                "parts": self._sent_parts,
                "parts_bytes": self._sent_bytes,
                "upload_id": self._sender.upload_id,
                "tail_key": None,
                "hash_state": None,
                "type_checked": True,
            }
        )
        return done, StoredObject(size=size, sha256=sha256, etag=etag.strip('"'))

    async def _complete_multipart(self) -> str:
        """Complete with the parts S3 holds (its ETags and checksums), after checking they
        are the ones the record counts."""
        upload_id = self._sender.upload_id
        assert upload_id is not None
        parts: list[CompletedPartTypeDef] = []
        size = 0
        paginator = self._s3.get_paginator("list_parts")
        pages = paginator.paginate(Bucket=self._bucket, Key=self._key, UploadId=upload_id)
        async for page in pages:
            for part in page.get("Parts", []):
                if part["PartNumber"] > self._sent_parts:
                    continue  # sent by a request whose chunk was discarded
                size += part["Size"]
                entry: CompletedPartTypeDef = {
                    "PartNumber": part["PartNumber"],
                    "ETag": part["ETag"],
                }
                if "ChecksumSHA256" in part:
                    entry["ChecksumSHA256"] = part["ChecksumSHA256"]
                parts.append(entry)
        if len(parts) != self._sent_parts or size != self._sent_bytes:
            raise RuntimeError(
                f"S3 holds {len(parts)} parts of {size} bytes, the upload {self._sent_parts}"
                f" of {self._sent_bytes}"
            )
        done = await self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
        return done["ETag"]

    async def discard(self) -> None:
        """Forget this request's uncommitted bytes: its parts past the committed ones are
        overwritten by the next request; its tail object and a multipart upload it began
        without committing it are removed."""
        self._chunks.clear()
        await self._sender.cancel()
        if self.wrote_tail:
            await self._s3.delete_object(Bucket=self._bucket, Key=self._tail_key)
        if self._committed.upload_id is None:
            await self._sender.abort()  # begun by this request, never recorded


async def delete_tail(s3: S3Client, bucket: str, key: str) -> None:
    try:
        await s3.delete_object(Bucket=bucket, Key=key)
    except ClientError as exc:  # the lifecycle rule on the partial prefix is the backstop
        log.warning("tus_tail_not_deleted", key=key, error=error_code(exc))


async def remove_bytes(s3: S3Client, bucket: str, job: Job) -> None:
    """Everything S3 holds of an unfinished upload: its multipart upload and its tail."""
    progress = job.resumable
    if progress is None:
        return
    if progress.upload_id is not None:
        with contextlib.suppress(ClientError):
            await s3.abort_multipart_upload(
                Bucket=bucket, Key=job.object.key, UploadId=progress.upload_id
            )
    if progress.tail_key is not None:
        await delete_tail(s3, bucket, progress.tail_key)
