"""What the consumer does with a message once its handling is over."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Action", "Decision"]


class Action(Enum):
    DELETE = "delete"  # done (or nothing to do): remove from the queue
    RETRY = "retry"  # leave it; it comes back after `visibility` seconds
    DEAD_LETTER = "dead_letter"  # poison: send to the DLQ with the reason, then delete


@dataclass(frozen=True)
class Decision:
    action: Action
    visibility: int | None = None
    reason: str | None = None

    @classmethod
    def delete(cls) -> Decision:
        return cls(Action.DELETE)

    @classmethod
    def retry(cls, visibility: int | None = None) -> Decision:
        return cls(Action.RETRY, visibility=visibility)

    @classmethod
    def dead_letter(cls, reason: str) -> Decision:
        return cls(Action.DEAD_LETTER, reason=reason)
