"""What AWS says about an overdue job: its object, its open multipart uploads, and what
the queue holds. Read-only; the repairs decide from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chute_core.aws import error_code

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

__all__ = ["MultipartUpload", "QueueSnapshot", "StoredObject", "multipart_uploads", "stored"]


@dataclass(frozen=True)
class StoredObject:
    etag: str
    size: int


@dataclass(frozen=True)
class MultipartUpload:
    upload_id: str
    last_part_at: datetime | None  # None: no part sent yet


@dataclass(frozen=True)
class QueueSnapshot:
    """The queue's approximate counts, read once per pass before the jobs are."""

    url: str
    visible: int
    in_flight: int
    retention_seconds: int

    @classmethod
    async def read(cls, sqs: SQSClient, url: str) -> QueueSnapshot:
        attributes = (
            await sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "MessageRetentionPeriod",
                ],
            )
        )["Attributes"]
        return cls(
            url=url,
            visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
            retention_seconds=int(attributes.get("MessageRetentionPeriod", "345600")),
        )

    @property
    def held(self) -> int:
        return self.visible + self.in_flight


async def stored(s3: S3Client, bucket: str, key: str) -> StoredObject | None:
    try:
        head = await s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return StoredObject(etag=str(head["ETag"]).strip('"'), size=int(head["ContentLength"]))


async def multipart_uploads(s3: S3Client, bucket: str, key: str) -> list[MultipartUpload]:
    """The key's unfinished multipart uploads, each with when its newest part arrived
    (S3's upload `Initiated` is not used: moto answers a fixed date for it)."""
    found: list[MultipartUpload] = []
    listing = await s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
    for upload in listing.get("Uploads", []):
        if upload.get("Key") != key:
            continue
        upload_id = str(upload["UploadId"])
        parts = (await s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)).get("Parts", [])
        newest = max((p["LastModified"] for p in parts if "LastModified" in p), default=None)
        found.append(MultipartUpload(upload_id=upload_id, last_part_at=newest))
    return found
