"""W3C trace context across the pipeline, with OpenTelemetry.

The API continues the client's trace (or starts one) and stores its `traceparent`
with the job (S3 object metadata and the job record); the worker continues that
trace when it processes the job, so one trace spans upload -> process.

Export is OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is
set. Otherwise no SDK is installed and the API's no-op tracer costs nothing; the
trace id of an incoming `traceparent` still flows into logs and to the worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

__all__ = ["configure_tracing", "context_from", "current_ids", "traceparent", "tracer"]

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configure_tracing(service: str) -> bool:
    """Install the SDK with an OTLP exporter if an endpoint is configured."""
    if not any(os.environ.get(v) for v in _ENDPOINT_VARIABLES):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"chute-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def tracer() -> trace.Tracer:
    return trace.get_tracer("chute")


def context_from(carrier: Mapping[str, str]) -> Context:
    """The trace context carried by headers or stored metadata (empty if none)."""
    return propagate.extract(carrier)


def traceparent() -> str | None:
    """The current context as a `traceparent` value, if there is a valid one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_ids() -> dict[str, Any]:
    """trace_id/span_id of the current span, for log lines (empty when invalid)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
