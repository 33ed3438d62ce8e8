"""One DynamoDB UpdateItem expression with placeholders (the job store's builder)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chute_core.jobs import JobState, iso, utcnow

__all__ = ["UpdateExpression"]


class UpdateExpression:
    """Builds one UpdateItem: placeholders for every name and value, so reserved words
    (`state`, `object`, `result`, `error`) and user data never reach the expression.
    A string or number used twice shares one placeholder: DynamoDB parses and checks
    each placeholder, so fewer make a smaller, cheaper request."""

    def __init__(
        self,
        *,
        target: JobState | None = None,
        set_values: Mapping[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        count_attempt: bool = False,
        now: str | None = None,
    ) -> None:
        self.target = target
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._refs: dict[tuple[type, object], str] = {}
        self._sets: list[str] = []
        self._removes: list[str] = []
        if target is not None:
            self.names["#state"] = "state"
            self._set("updated_at", now or iso(utcnow()))
            self._sets.append(f"#state = {self.value(target.value)}")
        for attr, value in (set_values or {}).items():
            self._set(attr, value)
        for attr in remove:
            self._removes.append(self.name(attr))
        if count_attempt:
            attempts = self.name("attempts")
            zero, one = self.value(0), self.value(1)
            self._sets.append(f"{attempts} = if_not_exists({attempts}, {zero}) + {one}")

    def name(self, attr: str) -> str:
        ref = f"#n{len(self.names)}"
        self.names[ref] = attr
        return ref

    def value(self, value: Any) -> str:
        shared = (type(value), value) if isinstance(value, str | int) else None
        if shared is not None and shared in self._refs:
            return self._refs[shared]
        ref = f":v{len(self.values)}"
        self.values[ref] = value
        if shared is not None:
            self._refs[shared] = ref
        return ref

    def _set(self, attr: str, value: Any) -> None:
        self._sets.append(f"{self.name(attr)} = {self.value(value)}")

    def due(self, shard: str, at: int | None) -> None:
        """Record the job's deadline in the due index, or (None) take it out."""
        if at is None:
            self._removes += [self.name("due_at"), self.name("due_shard")]
        else:
            self._set("due_at", at)
            self._set("due_shard", shard)

    def states_in(self, states: Iterable[JobState]) -> str:
        refs = [self.value(s.value) for s in sorted(states)]
        return f"#state = {refs[0]}" if len(refs) == 1 else f"#state IN ({', '.join(refs)})"

    def expression(self) -> str:
        text = "SET " + ", ".join(self._sets)
        if self._removes:
            text += " REMOVE " + ", ".join(self._removes)
        return text
