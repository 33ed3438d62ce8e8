"""CORS for the pages of CHUTE_CORS_ORIGINS (the same list bootstrap gives the bucket):
Starlette's middleware, with what a page may send and read, and a refused preflight
answered as a problem document like every other error."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from chute_api.problems import MEDIA_TYPE, TYPE_PREFIX

__all__ = ["EXPOSED_HEADERS", "REQUEST_HEADERS", "Cors"]

# What a page may send (it never sends cookies) and what its scripts may read.
REQUEST_HEADERS = [
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "Idempotency-Key",
    "Content-Digest",
    "X-Content-SHA256",
    "X-Request-ID",
    "traceparent",
    "tracestate",
    # tus 1.0
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Checksum",
    "Upload-Concat",
    "X-HTTP-Method-Override",
    "X-Requested-With",
]
EXPOSED_HEADERS = [
    "Location",
    "Retry-After",
    "Chute-Job-Id",
    "Idempotent-Replayed",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    # tus 1.0
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Expires",
]


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=REQUEST_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        refused = bytes(answer.body).decode().removeprefix("Disallowed CORS ")
        return JSONResponse(
            {
                "type": f"{TYPE_PREFIX}cors-refused",
                "title": "Cross-origin request refused",
                "status": 403,
                "detail": f"this origin may not call the API ({refused}): see CHUTE_CORS_ORIGINS",
            },
            status_code=403,
            media_type=MEDIA_TYPE,
        )
