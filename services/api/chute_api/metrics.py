"""The API's metrics and the ASGI middleware that records the HTTP ones.

Routes are labelled by their template (`/v1/jobs/{job_id}`), never by the path, and
unmatched paths share one label, so series do not grow with traffic. Buckets: small
uploads take 10-50 ms on moto and 50-300 ms on AWS; large ones take seconds."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEPENDENCY_UP",
    "REQUESTS",
    "REQUEST_BODY_BYTES",
    "REQUEST_SECONDS",
    "UPLOADS_IN_PROGRESS",
    "UPLOADS_REJECTED",
    "UPLOADS_WAITING",
    "UPLOAD_BYTES",
    "UPLOAD_MEMORY_BUDGET",
    "UPLOAD_MEMORY_IN_USE",
    "UPLOAD_SECONDS",
    "HttpMetricsMiddleware",
]

REQUESTS = Counter(
    "chute_http_requests",
    "HTTP requests by route template, method and status class (2xx, 4xx, ...).",
    ["route", "method", "status_class"],
)
REQUEST_SECONDS = Histogram(
    "chute_http_request_duration_seconds",
    "HTTP request duration, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
REQUEST_BODY_BYTES = Counter(
    "chute_http_request_body_bytes",
    "Bytes of request bodies received, by route template (uploads, and the little "
    "JSON the browser upload routes take: their files go straight to S3).",
    ["route"],
)
DEPENDENCY_UP = Gauge(
    "chute_api_dependency_up",
    "1 while the API's last check reached the dependency (s3, dynamodb); not readiness.",
    ["dependency"],
)
UPLOAD_BYTES = Counter("chute_upload_bytes", "Bytes of accepted uploads.")
UPLOAD_SECONDS = Histogram(
    "chute_upload_duration_seconds",
    "Time to receive and store one upload, accepted or not.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
UPLOADS_IN_PROGRESS = Gauge("chute_uploads_in_progress", "Uploads being received right now.")
UPLOAD_MEMORY_BUDGET = Gauge(
    "chute_api_upload_memory_budget_bytes",
    "The replica's budget for upload buffers (CHUTE_API_UPLOAD_MEMORY_BYTES).",
)
UPLOAD_MEMORY_IN_USE = Gauge(
    "chute_api_upload_memory_in_use_bytes", "Upload buffer bytes reserved right now."
)
UPLOADS_WAITING = Gauge(
    "chute_api_uploads_waiting", "Uploads waiting for room in the memory budget."
)
UPLOADS_REJECTED = Counter(
    "chute_uploads_rejected", "Uploads refused or abandoned, by reason.", ["reason"]
)


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        received = 0

        async def count_body(_receive: Receive = receive) -> Message:
            nonlocal received
            message = await _receive()
            received += len(message.get("body", b""))
            return message

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, count_body, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            REQUESTS.labels(template, method, f"{status // 100}xx").inc()
            REQUEST_SECONDS.labels(template, method).observe(time.perf_counter() - started)
            if received:
                REQUEST_BODY_BYTES.labels(template).inc(received)
