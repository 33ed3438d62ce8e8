"""The job table: create, read and conditional transitions (one UpdateItem each)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Self, overload

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chute_core._update_expression import UpdateExpression as _Update
from chute_core.aws import error_code
from chute_core.due import DUE_FIELDS, DuePolicy, shard_of
from chute_core.errors import ChuteError, JobNotFound, TransitionConflict
from chute_core.jobs import SOURCES, TERMINAL, Job, JobState, iso, utcnow
from chute_core.keys import valid_job_id
from chute_core.settings import PipelineSettings
from chute_core.tenant_listing import TENANT_INDEX, tenant_page, tenant_shard

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DUE_FIELDS", "TENANT_INDEX", "JobStore"]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _decimals(value: Any) -> Any:
    """DynamoDB has no float type: floats become the Decimal of their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _attribute(value: Any) -> Any:
    if type(value) is str:  # most values: no need for the serializer's type dispatch
        return {"S": value}
    return _serializer.serialize(_decimals(value))


def _to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _attribute(v) for k, v in values.items()}


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
    return error_code(exc) == "ConditionalCheckFailedException"


class JobStore:
    """Reads and writes job records; only `transition` and `claim` ever change `state`."""

    def __init__(self, client: DynamoDBClient, table: str, *, due: DuePolicy | None = None) -> None:
        self._client = client
        self._table = table
        self.due = due or DuePolicy()

    @classmethod
    def for_pipeline(cls, client: DynamoDBClient, pipeline: PipelineSettings) -> Self:
        """The store of the pipeline's table, with its deadlines."""
        return cls(client, pipeline.table, due=DuePolicy.from_settings(pipeline))

    async def create(self, job: Job) -> None:
        item = job.model_dump(mode="json", exclude_none=True)
        item["tenant_shard"] = tenant_shard(job.tenant, job.job_id)
        due_at = self.due.for_new(job, utcnow())
        if due_at is not None:
            item.update(due_at=due_at, due_shard=shard_of(job.job_id))
        try:
            await self._client.put_item(
                TableName=self._table,
                Item=_to_item(item),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise ChuteError(f"job {job.job_id} already exists") from None
            raise

    async def get(self, job_id: str, *, tenant: str | None = None) -> Job:
        """The job, or JobNotFound; with `tenant`, another tenant's job is not found either."""
        if not valid_job_id(job_id):
            raise JobNotFound(job_id)
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

    async def list_for_tenant(
        self,
        tenant: str,
        *,
        state: JobState | None,
        limit: int,
        start: Mapping[str, str] | None,
        pool: str | None = None,
        max_queries: int = 10,
    ) -> tuple[list[Job], dict[str, str] | None]:
        """Newest first from the sharded tenant index (chute_core.tenant_listing); with a
        state or pool filter a page may hold fewer than `limit`: follow the position it
        hands back until it is None."""
        return await tenant_page(
            self._client,
            self._table,
            tenant,
            state=state,
            pool=pool,
            limit=limit,
            position=start,
            parse=_from_item,
            max_queries=max_queries,
        )

    async def annotate(
        self, job_id: str, values: Mapping[str, Any], *, remove: Iterable[str] = ()
    ) -> Job:
        """Set attributes other than `state` (measurements, results) on an existing job."""
        update = _Update(set_values=values, remove=tuple(remove))
        try:
            return _from_item(await self._apply(job_id, update, "attribute_exists(job_id)"))
        except _Conflict:
            raise JobNotFound(job_id) from None

    @overload
    async def transition(
        self,
        job_id: str,
        target: JobState,
        *,
        sources: Iterable[JobState] | None = None,
        lease_owner: str | None = None,
        set_values: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        due_was: int | None = None,
        returning: Literal[True] = True,
    ) -> Job: ...

    @overload
    async def transition(
        self,
        job_id: str,
        target: JobState,
        *,
        sources: Iterable[JobState] | None = None,
        lease_owner: str | None = None,
        set_values: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        due_was: int | None = None,
        returning: bool,
    ) -> Job | None: ...

    async def transition(
        self,
        job_id: str,
        target: JobState,
        *,
        sources: Iterable[JobState] | None = None,
        lease_owner: str | None = None,
        set_values: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        due_was: int | None = None,
        returning: bool = True,
    ) -> Job | None:
        """Move the job to `target` if it is in one of `sources` (and, with `lease_owner`,
        still leased by it; with `due_was`, still due then). Raise TransitionConflict with
        the current record otherwise. The new record is returned unless `returning=False`:
        DynamoDB then sends none back and nothing is parsed (a worker's finish and
        heartbeats need none).

        The deadline follows the target (`DuePolicy.on_enter`) unless `set_values` names
        `due_at` (None: no deadline); a move within one state (a heartbeat) keeps it."""
        values = dict(set_values or {})
        sources = frozenset(sources if sources is not None else SOURCES[target])
        explicit = "due_at" in values
        due_at = values.pop("due_at", None)
        update = _Update(target=target, set_values=values, remove=tuple(remove))
        if explicit or sources != {target}:
            at = due_at if explicit else self.due.on_enter(target, values, utcnow())
            update.due(shard_of(job_id), at)
        condition = update.states_in(sources)
        if lease_owner is not None:
            condition = f"({condition}) AND #lease_owner = {update.value(lease_owner)}"
            update.names["#lease_owner"] = "lease_owner"
        if due_was is not None:
            condition = f"({condition}) AND {update.name('due_at')} = {update.value(due_was)}"
        item = await self._transition(job_id, update, condition, returning=returning)
        return _from_item(item) if returning else None

    async def claim(self, job_id: str, *, owner: str, lease_seconds: int, etag: str | None) -> Job:
        """Take the job for processing with a lease, counting the attempt. Claimable:
        QUEUED or RECEIVING (the event may overtake the API's QUEUED write), PROCESSING
        under an expired lease (its worker died), or terminal when `etag` names a newer
        object than the one processed (a genuinely new upload, not a duplicate event)."""
        now = utcnow()
        lease = {"lease_expires_at": iso(now + timedelta(seconds=lease_seconds))}
        update = _Update(
            target=JobState.PROCESSING,
            set_values={"lease_owner": owner, **lease, "started_at": iso(now)},
            remove=("error",),
            count_attempt=True,
            now=iso(now),
        )
        update.names["#lease_expires_at"] = "lease_expires_at"
        update.due(shard_of(job_id), self.due.on_enter(JobState.PROCESSING, lease, now))
        condition = (
            f"({update.states_in(SOURCES[JobState.PROCESSING])})"
            f" OR (#state = {update.value(JobState.PROCESSING.value)}"
            f" AND #lease_expires_at < {update.value(iso(now))})"
        )
        if etag is not None:
            update.names["#processed_etag"] = "processed_etag"
            condition += (
                f" OR (({update.states_in(TERMINAL - {JobState.CANCELLED})})"
                f" AND #processed_etag <> {update.value(etag)})"
            )
        return _from_item(await self._transition(job_id, update, condition))

    async def _transition(
        self, job_id: str, update: _Update, condition: str, *, returning: bool = True
    ) -> dict[str, Any]:
        try:
            # Every transition's condition names the current state, which a missing item
            # does not have: it fails the check rather than creating an item.
            return await self._apply(job_id, update, condition, returning=returning)
        except _Conflict as conflict:
            if conflict.old is None:
                raise JobNotFound(job_id) from None
            target = update.target.value if update.target else "?"
            raise TransitionConflict(job_id, target, conflict.old) from None

    async def _apply(
        self, job_id: str, update: _Update, condition: str, *, returning: bool = True
    ) -> dict[str, Any]:
        """The new item as DynamoDB returns it (empty with `returning=False`)."""
        try:
            response = await self._client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=update.expression(),
                ConditionExpression=condition,
                ExpressionAttributeNames=update.names,
                ExpressionAttributeValues=_to_item(update.values),
                ReturnValues="ALL_NEW" if returning else "NONE",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            old: Any = dict(exc.response).get("Item")
            raise _Conflict(_from_item(old) if old else None) from None
        return dict(response.get("Attributes", {}))


class _Conflict(Exception):
    def __init__(self, old: Job | None) -> None:
        self.old = old
