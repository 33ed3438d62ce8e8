"""One error model, one renderer: every API error becomes an RFC 9457 document with its
own status, problem type, title and headers; foreign errors are translated first."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import EndpointConnectionError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from chute_api import errors
from chute_api.problems import HANDLED, MEDIA_TYPE, as_api_error, render
from chute_core.errors import JobNotFound, UnsafeCallback


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/v1/jobs/x", "headers": []})


def _every_api_error() -> list[type[errors.ApiError]]:
    seen, todo = [], [errors.ApiError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo += cls.__subclasses__()
    return seen


def test_each_upload_refusal_renders_its_own_status_and_type() -> None:
    cases = {
        errors.UploadTooLarge: (413, "upload-too-large"),
        errors.UnsupportedUploadType: (415, "unsupported-media-type"),
        errors.UploadTimeout: (408, "upload-timeout"),
        errors.DigestMismatch: (400, "digest-mismatch"),
    }
    for cls, (status, code) in cases.items():
        response = render(_request(), cls("why"))
        body = json.loads(response.body)
        assert response.status_code == body["status"] == status
        assert body["type"] == f"urn:chute:problem:{code}"
        assert (body["title"], body["detail"], body["instance"]) == (
            "Upload rejected",
            "why",
            "/v1/jobs/x",
        )
        assert response.media_type == MEDIA_TYPE


def test_unauthorized_carries_its_bearer_challenge() -> None:
    plain = render(_request(), errors.Unauthorized("no key"))
    token = render(_request(), errors.Unauthorized("expired", token_error=True))
    assert plain.status_code == 401
    assert plain.headers["www-authenticate"] == 'Bearer realm="chute"'
    assert token.headers["www-authenticate"] == 'Bearer realm="chute", error="invalid_token"'


def test_a_conflict_in_progress_asks_to_retry_and_a_dependency_outage_too() -> None:
    busy = render(_request(), errors.IdempotencyConflict("running", in_progress=True))
    down = render(_request(), errors.DependencyUnavailable())
    assert (busy.status_code, busy.headers["retry-after"]) == (409, "1")
    assert (down.status_code, down.headers["retry-after"]) == (503, "5")
    assert "detail" not in json.loads(down.body)


def test_foreign_errors_are_translated_to_their_problem() -> None:
    request = _request()
    assert isinstance(as_api_error(request, JobNotFound("j1")), errors.NotFound)
    assert isinstance(as_api_error(request, UnsafeCallback("no")), errors.InvalidCallback)
    outage = EndpointConnectionError(endpoint_url="http://aws")
    assert isinstance(as_api_error(request, outage), errors.DependencyUnavailable)
    missing = as_api_error(request, HTTPException(404, "Not Found"))
    assert (missing.status, missing.code) == (404, "not-found")


def test_every_error_class_is_handled_and_has_a_status_code_and_title() -> None:
    for cls in _every_api_error():
        assert issubclass(cls, HANDLED)
        assert 400 <= cls.status < 600
        assert cls.code
        assert cls.title


def test_an_unknown_exception_is_not_disguised_as_a_problem() -> None:
    with pytest.raises(ZeroDivisionError):
        as_api_error(_request(), ZeroDivisionError())
