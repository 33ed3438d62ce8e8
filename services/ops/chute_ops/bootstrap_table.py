"""The job table's part of `chute bootstrap`: the table (on demand, TTL on `expires_at`)
and its two indexes, the sharded tenant index (listings; chute_core.tenant_listing) and
the sparse due index (the reconciler; chute_core.due).

A table from an older release is brought forward in place: a missing index is added
(one index operation at a time, each waited for, as DynamoDB requires); while the
unsharded tenant index of releases before the sharding is still there, records
without their tenant shard get it (a resumable, conditional backfill), then that index
is deleted: it is the hot partition docs/capacity.md describes."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from chute_core.aws import error_code
from chute_core.due import DUE_INDEX, DUE_INDEX_ATTRIBUTES
from chute_core.keys import valid_job_id
from chute_core.settings import PipelineSettings
from chute_core.tenant_listing import TENANT_INDEX, tenant_shard

__all__ = ["LEGACY_TENANT_INDEX", "TableSteps"]

LEGACY_TENANT_INDEX = "tenant-created_at"
INDEX_WAIT_SECONDS = 3600.0
_UNSHARDED = "attribute_exists(job_id) AND attribute_not_exists(tenant_shard)"

_ATTRIBUTES: dict[str, list[Any]] = {
    DUE_INDEX: [
        {"AttributeName": "due_shard", "AttributeType": "S"},
        {"AttributeName": "due_at", "AttributeType": "N"},
    ],
    TENANT_INDEX: [
        {"AttributeName": "tenant_shard", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "S"},
    ],
}
_INDEXES: dict[str, Any] = {
    # Sparse (only jobs with a deadline have the keys), with just what the reconciler
    # needs to judge a queued job without reading it (state, when it last moved, its
    # lease): a backlog costs one index query per pass. An entry is far below 1 KB.
    DUE_INDEX: {
        "IndexName": DUE_INDEX,
        "KeySchema": [
            {"AttributeName": "due_shard", "KeyType": "HASH"},
            {"AttributeName": "due_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(DUE_INDEX_ATTRIBUTES)},
    },
    # Listings read whole records from it: everything projected.
    TENANT_INDEX: {
        "IndexName": TENANT_INDEX,
        "KeySchema": [
            {"AttributeName": "tenant_shard", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
}


class TableSteps:
    p: PipelineSettings
    ddb: Any

    def note(self, resource: str, action: str) -> None:
        raise NotImplementedError

    def table(self) -> None:
        name = self.p.table
        try:
            described = self.ddb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            self._create(name)
        else:
            indexes = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
            for index in (DUE_INDEX, TENANT_INDEX):
                if index not in indexes:  # a table from an older release
                    self._index_update(name, {"Create": _INDEXES[index]}, _ATTRIBUTES[index])
                    self.note(f"table {name} index {index}", "created")
            if LEGACY_TENANT_INDEX in indexes:
                given = self._backfill_shards(name)
                if given:
                    self.note(f"table {name}: {given} records given their tenant shard", "updated")
                self._index_update(name, {"Delete": {"IndexName": LEGACY_TENANT_INDEX}}, [])
                self.note(f"table {name} index {LEGACY_TENANT_INDEX} (unsharded)", "deleted")
        ttl = self.ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") or (
            ttl.get("AttributeName") != "expires_at"
        ):
            self.ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
            )
            self.note(f"table {name} TTL on expires_at", "updated")

    def _create(self, name: str) -> None:
        self.ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "job_id", "AttributeType": "S"},
                *_ATTRIBUTES[TENANT_INDEX],
                *_ATTRIBUTES[DUE_INDEX],
            ],
            GlobalSecondaryIndexes=[_INDEXES[DUE_INDEX], _INDEXES[TENANT_INDEX]],
        )
        self.ddb.get_waiter("table_exists").wait(TableName=name)
        self.note(f"table {name}", "created")

    def _index_update(self, name: str, update: dict[str, Any], attributes: list[Any]) -> None:
        """One index operation, after every earlier one has finished (DynamoDB runs one
        at a time per table), waited for in turn."""
        self._wait_for_indexes(name)
        self.ddb.update_table(
            TableName=name,
            **({"AttributeDefinitions": attributes} if attributes else {}),
            GlobalSecondaryIndexUpdates=[update],
        )
        self._wait_for_indexes(name)

    def _wait_for_indexes(self, name: str) -> None:
        deadline = time.monotonic() + INDEX_WAIT_SECONDS
        while True:
            table = self.ddb.describe_table(TableName=name)["Table"]
            busy = [
                i["IndexName"]
                for i in table.get("GlobalSecondaryIndexes", [])
                if i.get("IndexStatus", "ACTIVE") != "ACTIVE"
            ]
            if table.get("TableStatus") == "ACTIVE" and not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {name}: indexes {busy} still building")
            time.sleep(5)

    def _backfill_shards(self, name: str) -> int:
        """Give every job record without one its `tenant_shard`; the count."""
        given = 0
        pages = self.ddb.get_paginator("scan").paginate(
            TableName=name,
            ProjectionExpression="job_id, tenant",
            FilterExpression="attribute_exists(tenant) AND attribute_not_exists(tenant_shard)",
        )
        for page in pages:
            for item in page.get("Items", []):
                job_id, tenant = item["job_id"]["S"], item["tenant"]["S"]
                if not valid_job_id(job_id):  # idempotency and other records
                    continue
                try:
                    self.ddb.update_item(
                        TableName=name,
                        Key={"job_id": {"S": job_id}},
                        UpdateExpression="SET tenant_shard = :shard",
                        ConditionExpression=_UNSHARDED,
                        ExpressionAttributeValues={":shard": {"S": tenant_shard(tenant, job_id)}},
                    )
                except ClientError as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise
                    continue  # expired or given meanwhile
                given += 1
        return given
