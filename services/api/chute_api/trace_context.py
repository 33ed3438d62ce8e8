"""Carry the caller's W3C trace context even when no tracing SDK is installed.

With an SDK, FastAPI's native telemetry opens a server span that continues the
caller's trace. Without one (the zero-cost default) nothing would read the
`traceparent` header; this middleware then makes the caller's context current, so
log lines carry its trace id and the job passes it on to the worker."""

from __future__ import annotations

from opentelemetry import context, trace
from starlette.types import ASGIApp, Receive, Scope, Send

from chute_core.tracing import context_from

__all__ = ["TraceContextMiddleware"]


class TraceContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or trace.get_current_span().get_span_context().is_valid:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        token = context.attach(context_from(headers))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
