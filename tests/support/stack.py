"""A freshly bootstrapped set of pipeline resources with unique names, per test."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from chute_core.aws import sync_client
from chute_core.settings import AwsSettings, PipelineSettings


@dataclass
class Stack:
    aws: AwsSettings
    pipeline: PipelineSettings

    @property
    def env(self) -> dict[str, str]:
        p = self.pipeline
        return {
            "CHUTE_AWS_ENDPOINT_URL": self.aws.aws_endpoint_url or "",
            "CHUTE_DYNAMODB_ENDPOINT_URL": self.aws.dynamodb_endpoint_url or "",
            "CHUTE_REGION": self.aws.region,
            "CHUTE_BUCKET": p.bucket,
            "CHUTE_TOPIC": p.topic,
            "CHUTE_QUEUE": p.queue,
            "CHUTE_TABLE": p.table,
            "CHUTE_VISIBILITY_TIMEOUT_SECONDS": str(p.visibility_timeout_seconds),
            "CHUTE_MAX_RECEIVE_COUNT": str(p.max_receive_count),
            "CHUTE_CORS_ORIGINS": ",".join(p.cors_origins),
            # Tests of other features call the API anonymously as tenant "default";
            # tests/api/test_auth.py turns authentication on.
            "CHUTE_AUTH": "none",
            # Likewise unlimited; tests/api/test_rate_limits.py sets budgets.
            "CHUTE_RATE_UPLOADS_PER_SECOND": "0",
            "CHUTE_RATE_READS_PER_SECOND": "0",
            # A stopping worker lets its outstanding long poll end (it may bring messages
            # to hand back): short polls keep every test's worker teardown short.
            "CHUTE_WORKER_WAIT_SECONDS": "2",
            **self.pool_env,
        }

    @property
    def pool_env(self) -> dict[str, str]:
        """CHUTE_POOLS and CHUTE_POOL_ROUTES when the pipeline has pools."""
        p, env = self.pipeline, {}
        if p.pools:
            specs = {name: s.model_dump(exclude_none=True) for name, s in p.pools.items()}
            env["CHUTE_POOLS"] = json.dumps(specs)
        if p.pool_routes:
            env["CHUTE_POOL_ROUTES"] = json.dumps([r.model_dump() for r in p.pool_routes])
        return env

    def client(self, service: str) -> Any:
        return sync_client(service, self.aws)

    def queue_url(self, name: str | None = None) -> str:
        url: str = self.client("sqs").get_queue_url(QueueName=name or self.pipeline.queue)[
            "QueueUrl"
        ]
        return url

    def keys(self, prefix: str = "") -> list[str]:
        s3 = self.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.pipeline.bucket, Prefix=prefix
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def multipart_uploads(self) -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = (
            self.client("s3").list_multipart_uploads(Bucket=self.pipeline.bucket).get("Uploads", [])
        )
        return uploads

    def job(self, job_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        item = (
            self.client("dynamodb")
            .get_item(
                TableName=self.pipeline.table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
            )
            .get("Item")
        )
        if item is None:
            return None
        d = TypeDeserializer()
        return {k: d.deserialize(v) for k, v in item.items()}


def unique_pipeline(**overrides: Any) -> PipelineSettings:
    """Resources named for this test alone; `pools` name their queues by suffix
    ({"images": {}} gets the queue "{name}-images")."""
    name = f"t{uuid.uuid4().hex[:12]}"
    values: dict[str, Any] = {"bucket": name, "topic": name, "queue": name, "table": name}
    pools = overrides.pop("pools", {})
    values["pools"] = {pool: {"queue": f"{name}-{pool}", **spec} for pool, spec in pools.items()}
    values.update(overrides)
    return PipelineSettings(**values)
