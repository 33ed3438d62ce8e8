"""The FilterExpression of a tenant's job listing (JobStore.list_for_tenant)."""

from __future__ import annotations

from typing import Any

from chute_core.jobs import JobState
from chute_core.pools import DEFAULT_POOL

__all__ = ["list_filter"]


def list_filter(state: JobState | None, pool: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """The FilterExpression of a listing (records from before pools are `default`'s)."""
    terms, names = [], {}
    if state is not None:
        terms.append("#state = :state")
        names["#state"] = "state"
        values[":state"] = {"S": state.value}
    if pool is not None:
        own = "#pool = :pool"
        terms.append(f"({own} OR attribute_not_exists(#pool))" if pool == DEFAULT_POOL else own)
        names["#pool"] = "pool"
        values[":pool"] = {"S": pool}
    if not terms:
        return {}
    return {"FilterExpression": " AND ".join(terms), "ExpressionAttributeNames": names}
