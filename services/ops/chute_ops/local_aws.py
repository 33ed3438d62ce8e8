"""moto's standalone server, as `chute dev` and the tests run it.

    python -m chute_ops.local_aws -H 127.0.0.1 -p 5000

Differences from plain `moto_server`:

- DynamoDB item writes are serialised. moto's threaded server evaluates a
  ConditionExpression and applies the write without a lock, so two concurrent
  conditional writes on one item can both succeed (seen here: 2 winners of 20
  concurrent claims). DynamoDB makes each conditional write atomic, and chute's
  exactly-once effect rests on that, so the local stack must too.
- SQS queue attributes are computed once per request. moto computes every attribute
  of a queue (three of them count every message) to read one, and ReceiveMessage reads
  the retention period that way for each message it returns: a receive cost
  O(messages x backlog), 60% of moto's CPU in the worker benchmark with 500 messages
  queued. SendMessage computes them all too (to read one FIFO setting), and each count
  reads the clock once per message: filling a queue with 2,000 S3 events took 81 s,
  quadratic. Here each count reads the clock once. Same answers, a fraction of the cost.
- Messages past the queue's retention are gone, as on SQS. moto keeps them: they stay
  in the counts, and ReceiveMessage stops at the first one it meets (after counting a
  receive of it), so one expired message at the head of a queue hides every message
  behind it, forever. Here they are dropped before each receive and attribute read.
- Each request's service is looked up once per host name. moto's dispatcher lists its
  own package directory (`os.listdir` and an `isdir` per service) and tries some 300 URL
  patterns for every request, under one lock that every request thread takes: about
  half of moto's CPU with two workers and a reconciler busy. The answer depends on the
  host name alone, so it is remembered.
- A presigned POST form upload is answered as S3 answers it: with the object's `ETag`
  and `Location` and the bucket's CORS headers (moto 5.2.5 sends none of the three, so
  a browser could neither read the answer nor learn that the upload worked).
- Bucket CORS rules are enforced (`MOTO_DISABLE_GLOBAL_CORS=true` unless set): moto's
  default answers every preflight permissively, which would hide a missing CORS rule.

moto is a development dependency; this module is never used in production.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "compute_queue_attributes_once",
    "dispatch_by_host_once",
    "expire_messages_past_retention",
    "main",
    "post_answers_like_s3",
    "serialise_dynamodb_writes",
]

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


def compute_queue_attributes_once() -> None:
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.exceptions import InvalidAttributeName
    from moto.sqs.models import Message, Queue, SQSBackend

    def get_queue_attributes(
        self: SQSBackend, queue_name: str, attribute_names: list[str]
    ) -> dict[str, Any]:
        # moto 5.2's own logic, with `queue.attributes` computed once instead of per name.
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((name for name in attribute_names if name not in valid), None)
        if invalid is not None:
            raise InvalidAttributeName(invalid)
        attributes: dict[str, Any] = queue.attributes
        if "All" in attribute_names:
            return attributes
        return {n: attributes[n] for n in attribute_names if attributes.get(n) is not None}

    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        # Set from the MessageRetentionPeriod attribute (moto setattr()s each attribute).
        retention = int(vars(self.get_queue(queue_name))["message_retention_period"])
        sent = (message.sent_timestamp or 0) / 1000
        return bool(retention + sent > unix_time())

    def counts(queue: Queue) -> tuple[int, int, int]:
        """(visible, not visible, delayed) as moto counts them, the clock read once."""
        now = unix_time_millis()
        visible = not_visible = delayed = 0
        for m in queue._messages:
            shown, held = now > m.visible_at, now < m.delayed_until
            visible += shown and not held
            not_visible += not shown
            delayed += held
        return visible, not_visible, delayed

    Queue.approximate_number_of_messages = property(lambda q: counts(q)[0])  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_not_visible = property(lambda q: counts(q)[1])  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_delayed = property(lambda q: counts(q)[2])  # type: ignore[method-assign,assignment]
    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )


def expire_messages_past_retention() -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def dropping_expired(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
            queue = self.get_queue(queue_name)
            retention = int(vars(queue)["message_retention_period"])
            now = unix_time()
            with queue._messages_lock:
                expired = {
                    m for m in queue._messages if (m.sent_timestamp or 0) / 1000 + retention <= now
                }
                if expired:
                    queue._messages = [m for m in queue._messages if m not in expired]
                    queue._pending_messages -= expired
            return method(self, queue_name, *args, **kwargs)

        return call

    for name in ("receive_message", "get_queue_attributes"):
        setattr(SQSBackend, name, dropping_expired(getattr(SQSBackend, name)))


def dispatch_by_host_once() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lookup = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in known:  # called under the dispatcher's lock
            known[host] = lookup(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def post_answers_like_s3() -> None:
    from urllib.parse import quote

    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post

    def post(self: S3Response, request: Any, bucket_name: str) -> Any:
        status, headers, body = original(self, request, bucket_name)
        if self.data.get("Action") != "PutObject" or not 200 <= int(status) < 300:
            return status, headers, body
        key = self.querystring["key"][0]
        stored = self.backend.get_object(bucket_name, key)
        host = request.headers.get("Host", "localhost")
        answer = {
            **self._get_cors_headers_other(),
            **headers,
            "ETag": stored.etag if stored is not None else "",
        }
        answer.setdefault("Location", f"http://{host}/{bucket_name}/{quote(key)}")
        return status, answer, body

    S3Response._bucket_response_post = post  # type: ignore[method-assign]


def main() -> None:
    import os

    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")  # read when moto loads
    from moto.server import main as moto_main

    serialise_dynamodb_writes()
    compute_queue_attributes_once()
    expire_messages_past_retention()
    dispatch_by_host_once()
    post_answers_like_s3()
    moto_main()


if __name__ == "__main__":
    main()
