"""Where processors' result objects go: results/{tenant}/{job_id}/{processor}/{name}."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chute_core.jobs import Job
from chute_core.keys import ObjectKeys

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["ResultSink"]


@dataclass
class ResultSink:
    s3: S3Client
    bucket: str
    keys: ObjectKeys
    job: Job
    written: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def write(self, processor: str, name: str, body: bytes, content_type: str) -> str:
        key = self.keys.result(self.job.tenant, self.job.job_id, f"{processor}/{name}")
        await self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        if key not in self.written[processor]:
            self.written[processor].append(key)
        return key
