"""How chute's own clients read Retry-After: seconds or an HTTP date, capped, with a
default for an answer that names none."""

from __future__ import annotations

import email.utils
import time

import httpx

from chute_ops.retry_after import MAX_WAIT_SECONDS, retry_after_seconds


def _answer(**headers: str) -> httpx.Response:
    return httpx.Response(503, headers=headers)


def test_delta_seconds_are_taken_as_they_are() -> None:
    assert retry_after_seconds(_answer(**{"Retry-After": "2"}), default=9) == 2


def test_an_http_date_is_the_time_left_until_it() -> None:
    soon = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 <= retry_after_seconds(_answer(**{"Retry-After": soon}), default=9) <= 5


def test_a_long_wait_is_capped() -> None:
    assert retry_after_seconds(_answer(**{"Retry-After": "3600"}), default=9) == MAX_WAIT_SECONDS


def test_no_or_a_malformed_header_takes_the_default() -> None:
    assert retry_after_seconds(_answer(), default=4) == 4
    assert retry_after_seconds(_answer(**{"Retry-After": "soon"}), default=4) == 4
