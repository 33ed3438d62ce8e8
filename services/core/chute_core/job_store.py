"""The job table: create, read and conditional transitions (one UpdateItem each)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chute_core.errors import ChuteError, JobNotFound, TransitionConflict
from chute_core.jobs import SOURCES, Job, JobState, iso, utcnow

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["JobStore"]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    # DynamoDB has no float type: route through JSON so floats become Decimals.
    plain = json.loads(json.dumps(values), parse_float=Decimal)
    return {k: _serializer.serialize(v) for k, v in plain.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _from_item(item: Mapping[str, Any]) -> Job:
    return Job.model_validate({k: _plain(_deserializer.deserialize(v)) for k, v in item.items()})


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class JobStore:
    """Reads and writes job records; only `transition` and `claim` ever change `state`."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def create(self, job: Job) -> None:
        try:
            await self._client.put_item(
                TableName=self._table,
                Item=_to_item(job.model_dump(mode="json", exclude_none=True)),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise ChuteError(f"job {job.job_id} already exists") from None
            raise

    async def get(self, job_id: str, *, tenant: str | None = None) -> Job:
        """The job, or JobNotFound; with `tenant`, another tenant's job is not found either."""
        response = await self._client.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            raise JobNotFound(job_id)
        job = _from_item(item)
        if tenant is not None and job.tenant != tenant:
            raise JobNotFound(job_id)
        return job

    async def annotate(self, job_id: str, values: Mapping[str, Any]) -> Job:
        """Set attributes other than `state` (measurements, results) on an existing job."""
        names = {f"#a{i}": attr for i, attr in enumerate(values)}
        item = _to_item({f":a{i}": v for i, v in enumerate(values.values())})
        try:
            response = await self._client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(names))),
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=item,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise JobNotFound(job_id) from None
            raise
        return _from_item(response["Attributes"])

    async def transition(
        self,
        job_id: str,
        target: JobState,
        *,
        sources: Iterable[JobState] | None = None,
        lease_owner: str | None = None,
        set_values: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        count_attempt: bool = False,
        takeover_expired_before: str | None = None,
    ) -> Job:
        """Move the job to `target` if it is in one of `sources` (and, with `lease_owner`,
        still leased by it). Raise TransitionConflict with the current record otherwise."""
        allowed = sorted(frozenset(sources) if sources is not None else SOURCES[target])
        names: dict[str, str] = {"#state": "state", "#updated_at": "updated_at"}
        values: dict[str, Any] = {":target": target.value, ":now": iso(utcnow())}
        source_refs = []
        for i, state in enumerate(allowed):
            values[f":src{i}"] = state.value
            source_refs.append(f":src{i}")
        condition = f"#state IN ({', '.join(source_refs)})"
        if takeover_expired_before is not None:
            names["#lease_expires_at"] = "lease_expires_at"
            values[":processing"] = JobState.PROCESSING.value
            values[":expired_before"] = takeover_expired_before
            condition = (
                f"({condition}) OR (#state = :processing AND #lease_expires_at < :expired_before)"
            )
        if lease_owner is not None:
            names["#lease_owner"] = "lease_owner"
            values[":owner"] = lease_owner
            condition = f"({condition}) AND #lease_owner = :owner"
        updates = ["#state = :target", "#updated_at = :now"]
        for i, (attr, value) in enumerate((set_values or {}).items()):
            names[f"#s{i}"] = attr
            values[f":s{i}"] = value
            updates.append(f"#s{i} = :s{i}")
        if count_attempt:
            names["#attempts"] = "attempts"
            values[":zero"], values[":one"] = 0, 1
            updates.append("#attempts = if_not_exists(#attempts, :zero) + :one")
        expression = "SET " + ", ".join(updates)
        removed = list(remove)
        if removed:
            for i, attr in enumerate(removed):
                names[f"#r{i}"] = attr
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        try:
            response = await self._client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(job_id) AND ({condition})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            old: Any = dict(exc.response).get("Item")
            if not old:
                raise JobNotFound(job_id) from None
            raise TransitionConflict(job_id, target.value, _from_item(old)) from None
        return _from_item(response["Attributes"])
