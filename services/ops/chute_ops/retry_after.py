"""Retry-After, honoured by chute's own clients (`chute upload`, `chute loadtest`): a 429
(the tenant's rate budget) or 503 (`server-busy`: the replica's upload memory is in use;
`dependency-unavailable`) is tried again after the delay the API names, a bounded number
of times, so admission control delays an upload and never loses it."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_result, stop_after_attempt

__all__ = ["ATTEMPTS", "RETRIED", "retry_after_seconds", "send", "send_async"]

RETRIED = frozenset({429, 503})
ATTEMPTS = 8
MAX_WAIT_SECONDS = 30.0


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    """The answer's Retry-After (delta-seconds or an HTTP date), at most 30 s; `default`
    when it has none or it is malformed."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT_SECONDS)
    try:
        moment = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return default
    return min(max(0.0, moment - time.time()), MAX_WAIT_SECONDS)


def _busy(response: httpx.Response) -> bool:
    return response.status_code in RETRIED


def _wait(state: RetryCallState) -> float:
    response: httpx.Response = state.outcome.result()  # type: ignore[union-attr]
    return retry_after_seconds(response, default=min(2.0**state.attempt_number, 30.0))


def _last(state: RetryCallState) -> httpx.Response:
    response: httpx.Response = state.outcome.result()  # type: ignore[union-attr]
    return response  # out of attempts: the caller sees the last refusal


def send(request: Callable[[], httpx.Response], attempts: int = ATTEMPTS) -> httpx.Response:
    """`request()` (which must build a fresh body each time), again while refused."""
    retrying = Retrying(
        retry=retry_if_result(_busy),
        wait=_wait,
        stop=stop_after_attempt(attempts),
        retry_error_callback=_last,
    )
    return retrying(request)


async def send_async(
    request: Callable[[], Coroutine[Any, Any, httpx.Response]],
    attempts: int = ATTEMPTS,
    on_retry: Callable[[], None] | None = None,
) -> httpx.Response:
    """The same for an `async def` request function (tenacity awaits only those)."""
    retrying = AsyncRetrying(
        retry=retry_if_result(_busy),
        wait=_wait,
        stop=stop_after_attempt(attempts),
        retry_error_callback=_last,
        before_sleep=(lambda _: on_retry()) if on_retry else None,
    )
    response: httpx.Response = await retrying(request)
    return response
