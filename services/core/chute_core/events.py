"""Parse the bodies of queue messages: raw S3 events, SNS-wrapped S3 events, s3:TestEvent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from chute_core.errors import PoisonMessage

__all__ = [
    "ObjectCreated",
    "S3TestEvent",
    "UploadDeadline",
    "deadline_message",
    "object_created_message",
    "parse_body",
]


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    size: int | None
    etag: str | None
    event_name: str
    event_time: str | None


@dataclass(frozen=True)
class S3TestEvent:
    """S3 sends one when a notification is configured; it carries no object."""

    bucket: str | None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise PoisonMessage("unparseable_body", f"not JSON: {exc}") from None


def _record(raw: Any) -> ObjectCreated:
    try:
        event_name = str(raw["eventName"])
        s3 = raw["s3"]
        obj = s3["object"]
        bucket = str(s3["bucket"]["name"])
        key = unquote_plus(str(obj["key"]))  # S3 URL-encodes keys in events
    except (KeyError, TypeError) as exc:
        raise PoisonMessage("unparseable_body", f"S3 record lacks {exc}") from None
    if not event_name.startswith("ObjectCreated:"):
        raise PoisonMessage("unexpected_event", f"event {event_name} is not ObjectCreated")
    size = obj.get("size")
    etag = obj.get("eTag") or obj.get("etag")
    return ObjectCreated(
        bucket=bucket,
        key=key,
        size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
        etag=str(etag).strip('"') if etag else None,
        event_name=event_name,
        event_time=raw.get("eventTime"),
    )


@dataclass(frozen=True)
class UploadDeadline:
    """chute's own message: check whether a presigned upload arrived in time."""

    job_id: str
    tenant: str


DEADLINE_KIND = "chute.upload-deadline"


def deadline_message(job_id: str, tenant: str) -> str:
    return json.dumps({"kind": DEADLINE_KIND, "job_id": job_id, "tenant": tenant})


def object_created_message(bucket: str, key: str, *, size: int, etag: str) -> str:
    """The event S3 would have sent for a stored object, as the reconciler re-sends it
    when the original was lost (raw delivery shape; `eventSource` tells them apart)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "chute:reconciler",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag},
        },
    }
    return json.dumps({"Records": [record]})


def parse_body(body: str) -> list[ObjectCreated] | S3TestEvent | UploadDeadline:
    """Every object the message announces, a S3TestEvent, or an UploadDeadline;
    PoisonMessage if it is none of these."""
    doc = _loads(body)
    if isinstance(doc, dict) and doc.get("kind") == DEADLINE_KIND:
        job_id, tenant = doc.get("job_id"), doc.get("tenant")
        if not isinstance(job_id, str) or not isinstance(tenant, str):
            raise PoisonMessage("unparseable_body", "upload deadline without job_id/tenant")
        return UploadDeadline(job_id=job_id, tenant=tenant)
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
        doc = _loads(doc["Message"])  # SNS envelope without raw message delivery
    if not isinstance(doc, dict):
        raise PoisonMessage("unparseable_body", "body is not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return S3TestEvent(bucket=doc.get("Bucket"))
    records = doc.get("Records")
    if not isinstance(records, list) or not records:
        raise PoisonMessage("unparseable_body", "no S3 Records in body")
    return [_record(r) for r in records]
