"""Metrics both services share: build info and every request sent to AWS.

Names follow DESIGN.md §6: `chute_` prefix, base units, bounded labels only
(service and operation names, never a job id or a tenant).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from chute_core import __version__

__all__ = [
    "AWS_REQUESTS",
    "DEPENDENCY_ERRORS",
    "exposition",
    "instrument_client",
    "set_build_info",
]

BUILD_INFO = Gauge("chute_build_info", "chute's version; always 1.", ["version", "service"])
AWS_REQUESTS = Counter(
    "chute_aws_requests",
    "HTTP requests sent to AWS (retries included), by service and operation.",
    ["service", "operation"],
)
DEPENDENCY_ERRORS = Counter(
    "chute_dependency_errors",
    "AWS calls that failed after retries: unreachable, timed out, throttled or 5xx.",
    ["service"],
)
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "SlowDown", "RequestLimitExceeded"})


def exposition() -> tuple[bytes, str]:
    """The default registry in Prometheus's text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def set_build_info(service: str) -> None:
    BUILD_INFO.labels(version=__version__, service=service).set(1)


def _names(event_name: str) -> tuple[str, str]:
    _, service, operation = event_name.split(".", 2)
    return service, operation


def _on_send(event_name: str, **_: Any) -> None:
    service, operation = _names(event_name)
    AWS_REQUESTS.labels(service=service, operation=operation).inc()


def _on_call(event_name: str, http_response: Any, parsed: Any, **_: Any) -> None:
    code = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
    if http_response.status_code >= 500 or code in _THROTTLED:
        DEPENDENCY_ERRORS.labels(service=_names(event_name)[0]).inc()


def _on_call_error(event_name: str, **_: Any) -> None:
    DEPENDENCY_ERRORS.labels(service=_names(event_name)[0]).inc()


def instrument_client(client: Any) -> None:
    """Count the client's HTTP requests and failed calls (botocore events)."""
    events = client.meta.events
    events.register("before-send", _on_send)
    events.register("after-call", _on_call)
    events.register("after-call-error", _on_call_error)
