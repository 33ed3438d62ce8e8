"""moto's standalone server, as `chute dev` and the tests run it.

    python -m chute_core.local_aws -H 127.0.0.1 -p 5000

One difference from plain `moto_server`: DynamoDB item writes are serialised.
moto's threaded server evaluates a ConditionExpression and applies the write
without a lock, so two concurrent conditional writes on one item can both succeed
(seen here: 2 winners of 20 concurrent claims). DynamoDB makes each conditional
write atomic, and chute's exactly-once effect rests on that, so the local stack
must too. moto is a development dependency; this module is never used in production.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["main", "serialise_dynamodb_writes"]

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def serialise_dynamodb_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return call

    for name in _WRITES:
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


def main() -> None:
    from moto.server import main as moto_main

    serialise_dynamodb_writes()
    moto_main()


if __name__ == "__main__":
    main()
