"""Schemathesis against the live OpenAPI document, authenticated with a valid key:
valid and invalid requests for every operation, at least 500 of them, and no 5xx and
no response outside the schema."""

from __future__ import annotations

import itertools
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import checks

from tests.conftest import ServerFactory
from tests.support.keyed import keyed_api
from tests.support.stack import Stack

EXAMPLES_PER_OPERATION = 50
MINIMUM_REQUESTS = 500
# tus PATCH bodies are bytes under their own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_generated_requests_get_no_5xx_and_only_documented_responses(
    stack: Stack, servers: ServerFactory, tmp_path: Path
) -> None:
    keyed = keyed_api(servers, stack, tmp_path, ["fuzz"], CHUTE_MAX_UPLOAD_BYTES=str(1024 * 1024))
    api = keyed.server
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = keyed.bearer("fuzz")
    sent = 0
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case: schemathesis.Case) -> None:
            nonlocal sent
            sent += 1
            try:
                case.call_and_validate(
                    base_url=api.url,
                    headers=headers,
                    checks=[
                        checks.not_a_server_error,
                        checks.status_code_conformance,
                        checks.content_type_conformance,
                        checks.response_schema_conformance,
                    ],
                )
            except AssertionError as exc:  # keep going: report every operation at once
                failures.append(f"{case.method} {case.path}: {str(exc)[:500]}")

        try:
            exercise()
        except hypothesis.errors.Unsatisfiable:
            continue  # an operation without inputs has no invalid ones to send
    print(f"{sent} requests over {len(operations)} operations")
    assert not failures, "\n".join(failures[:10])
    assert sent >= MINIMUM_REQUESTS, sent
