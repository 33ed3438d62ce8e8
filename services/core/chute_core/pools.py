"""Worker pools: which queue carries a job, chosen when the job is created.

A pool is a queue with its DLQ and limits, served by its own workers. With no pool
configured there is one, `default`, on `CHUTE_QUEUE`, and keys are
`incoming/{tenant}/{job_id}` as they always were. With pools configured every key names
its pool, `incoming/{pool}/{tenant}/{job_id}`, and each pool's SNS subscription carries a
filter policy on the S3 event's key, so the one topic (the fan-out point) delivers each
event only to its pool's queue (docs/pools.md says why this and not S3 filters).

Routes, most specific first: a tenant pinned to a pool, then the processors the upload
asked for, then the content type; anything else goes to `default`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chute_core.content_types import matches
from chute_core.errors import ChuteError, PoisonMessage

__all__ = [
    "DEFAULT_POOL",
    "POOL_NAME",
    "Pool",
    "PoolRoute",
    "PoolSpec",
    "Pools",
    "ProcessorsSpanPools",
]

DEFAULT_POOL = "default"
# A key segment, a Kubernetes name fragment and a metrics label at once.
POOL_NAME = r"^[a-z][a-z0-9-]{0,23}$"
_Name = Annotated[str, Field(pattern=POOL_NAME)]


class PoolSpec(BaseModel):
    """One pool as configured (CHUTE_POOLS: a JSON object of these by name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: str | None = None  # required, except for `default` (CHUTE_QUEUE)
    dlq: str | None = None  # default: "{queue}-dlq"
    visibility_timeout_seconds: Annotated[int, Field(ge=1, le=43200)] | None = None
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] | None = None


class PoolRoute(BaseModel):
    """Jobs sent to `pool` (CHUTE_POOL_ROUTES: a JSON list of these)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: _Name
    tenants: list[str] = Field(default_factory=list)
    processors: list[str] = Field(default_factory=list)
    content_types: list[str] = Field(default_factory=list)


class ProcessorsSpanPools(ChuteError):
    """An upload asked for processors that live in different pools."""

    code = "processors_span_pools"


@dataclass(frozen=True)
class Pool:
    name: str
    queue: str
    dlq: str
    visibility_timeout_seconds: int
    max_receive_count: int
    segment: str  # what the pool adds to the incoming prefix: "" unpooled, else "{name}/"


def _overlap(a: str, b: str) -> bool:
    """Whether one job's type could match both patterns (image/* and image/png do)."""
    return a == b or matches(a, (b,)) or matches(b, (a,))


def _unique(
    kind: str, claims: Iterable[tuple[str, str]], verb: str = "routed to"
) -> dict[str, str]:
    owner: dict[str, str] = {}
    for item, pool in claims:
        if owner.setdefault(item, pool) != pool:
            raise ValueError(f"{kind} {item!r} is {verb} both {owner[item]!r} and {pool!r}")
    return owner


class Pools:
    """The configured pools and routes, checked: every route names a pool, no two routes
    of one kind overlap, every pool has a queue of its own."""

    def __init__(
        self,
        specs: Mapping[str, PoolSpec],
        routes: Sequence[PoolRoute],
        *,
        queue: str,
        dlq: str,
        visibility_timeout_seconds: int,
        max_receive_count: int,
    ) -> None:
        self.pooled = bool(specs) or bool(routes)
        specs = {DEFAULT_POOL: PoolSpec(), **specs}
        self._pools: dict[str, Pool] = {}
        for name, spec in specs.items():
            if name == DEFAULT_POOL:
                if spec.queue not in (None, queue):
                    raise ValueError("pool 'default' is CHUTE_QUEUE's: leave its queue unset")
                spec = spec.model_copy(update={"queue": queue, "dlq": spec.dlq or dlq})
            if not spec.queue:
                raise ValueError(f"pool {name!r} names no queue")
            self._pools[name] = Pool(
                name=name,
                queue=spec.queue,
                dlq=spec.dlq or f"{spec.queue}-dlq",
                visibility_timeout_seconds=spec.visibility_timeout_seconds
                or visibility_timeout_seconds,
                max_receive_count=spec.max_receive_count or max_receive_count,
                segment=f"{name}/" if self.pooled else "",
            )
        users = _unique(
            "queue",
            ((q, p.name) for p in self._pools.values() for q in (p.queue, p.dlq)),
            verb="used by",
        )
        if len(users) != 2 * len(self._pools):
            raise ValueError("a pool's DLQ is its own queue")
        for route in routes:
            if route.pool not in self._pools:
                raise ValueError(f"a route names pool {route.pool!r}, which is not configured")
        self._tenants = _unique("tenant", ((t, r.pool) for r in routes for t in r.tenants))
        self._processors = _unique("processor", ((p, r.pool) for r in routes for p in r.processors))
        self._types = [(t, r.pool) for r in routes for t in r.content_types]
        for i, (a, pool_a) in enumerate(self._types):
            for b, pool_b in self._types[i + 1 :]:
                if pool_a != pool_b and _overlap(a, b):
                    raise ValueError(f"content types {a!r} ({pool_a}) and {b!r} ({pool_b}) overlap")

    @property
    def routes_types(self) -> bool:
        """Whether any route goes by content type (the API then detects it)."""
        return bool(self._types)

    @property
    def default(self) -> Pool:
        return self._pools[DEFAULT_POOL]

    def __iter__(self) -> Iterator[Pool]:
        return iter(self._pools.values())

    def names(self) -> list[str]:
        return list(self._pools)

    def get(self, name: str) -> Pool:
        """The pool, or ChuteError naming the ones there are."""
        try:
            return self._pools[name]
        except KeyError:
            raise ChuteError(f"no pool {name!r}; pools: {', '.join(self._pools)}") from None

    def carrying(self, name: str | None) -> Pool:
        """The pool whose queue carries a job recorded with `name`: a pool since removed
        from the configuration falls back to `default`."""
        return self._pools.get(name or DEFAULT_POOL, self.default)

    def route(self, *, tenant: str, processors: Sequence[str] | None, content_type: str) -> Pool:
        """The pool of a new job; ProcessorsSpanPools for processors in two pools."""
        if tenant in self._tenants:
            return self._pools[self._tenants[tenant]]
        wanted = {self._processors[p] for p in processors or () if p in self._processors}
        if len(wanted) > 1:
            raise ProcessorsSpanPools(
                f"processors {sorted(processors or ())} run in different pools "
                f"({', '.join(sorted(wanted))}); upload them as separate jobs"
            )
        if wanted:
            return self._pools[wanted.pop()]
        for pattern, pool in self._types:
            if matches(content_type, (pattern,)):
                return self._pools[pool]
        return self.default

    def of_segment(self, segment: str | None) -> Pool | None:
        """The pool a key's pool segment names (None: a key without one is `default`'s)."""
        if segment is None:
            return self.default
        return self._pools.get(segment)

    def check_serves(self, served: Pool, segment: str | None, key: str) -> None:
        """PoisonMessage (`wrong_pool`) unless the key's pool segment is `served`'s."""
        if self.of_segment(segment) is not served:
            raise PoisonMessage(
                "wrong_pool",
                f"key {key} is pool {segment or DEFAULT_POOL}'s; this worker serves {served.name}",
            )

    def filter_policy(self, pool: Pool, incoming_prefix: str) -> dict[str, Any] | None:
        """The SNS filter policy (on the message body) that lets only `pool`'s events into
        its queue; None when unpooled (one queue takes everything, as before pools).

        S3 URL-encodes keys in events; whether '/' is encoded differs between S3
        (kept) and local emulations (moto: %2F), so both spellings are listed."""
        if not self.pooled:
            return None
        prefix = f"{incoming_prefix}{pool.segment}"
        spellings = sorted({prefix, prefix.replace("/", "%2F")})
        return {"Records": {"s3": {"object": {"key": [{"prefix": p} for p in spellings]}}}}
