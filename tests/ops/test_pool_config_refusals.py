"""A bad pool configuration stops the API, the worker and bootstrap alike at start-up,
each with one readable line and a non-zero exit, before touching AWS."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import run_chute

POOLS = json.dumps({"images": {"queue": "q-images"}})
BAD = [
    (
        {"CHUTE_POOLS": POOLS, "CHUTE_POOL_ROUTES": '[{"pool": "gpu", "tenants": ["a"]}]'},
        "a route names pool 'gpu', which is not configured",
    ),
    ({"CHUTE_POOLS": json.dumps({"images": {}})}, "pool 'images' names no queue"),
    (
        {"CHUTE_POOLS": json.dumps({"a": {"queue": "q"}, "b": {"queue": "q"}})},
        "queue 'q' is used by both 'a' and 'b'",
    ),
    (
        {
            "CHUTE_POOLS": POOLS,
            "CHUTE_POOL_ROUTES": json.dumps(
                [
                    {"pool": "images", "content_types": ["image/*"]},
                    {"pool": "default", "content_types": ["image/png"]},
                ]
            ),
        },
        "content types 'image/*' (images) and 'image/png' (default) overlap",
    ),
]
# Each test starts a `chute` process (which stops at once): the slow tier, like every
# test that starts the services.
pytestmark = pytest.mark.slow

# Nothing listens here: a command that reached for AWS would fail differently.
NOWHERE = {
    "CHUTE_AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "CHUTE_AWS_MAX_ATTEMPTS": "1",
    "CHUTE_AUTH": "none",
}


# Each command meets a different mistake (tests/core/test_pools.py has every mistake in
# process); one process per command keeps this in the fast tier.
@pytest.mark.parametrize(
    ("command", "env", "message"),
    [("api", *BAD[0]), ("worker", *BAD[1]), ("bootstrap", *BAD[2]), ("reconcile", *BAD[3])],
)
def test_a_bad_pool_configuration_is_one_line_at_start_up(
    command: str, env: dict[str, str], message: str
) -> None:
    args = [command, "--once"] if command == "reconcile" else [command]
    refused = run_chute(*args, env={**NOWHERE, **env}, timeout=60)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert lines == [f"chute: error: CHUTE_POOLS / CHUTE_POOL_ROUTES: {message}"], refused.stderr


def test_a_worker_for_an_unknown_pool_refuses_to_start_with_one_line() -> None:
    refused = run_chute("worker", "--pool", "gpu", env={**NOWHERE, "CHUTE_POOLS": POOLS})
    assert refused.returncode != 0
    assert (
        refused.stderr.strip() == "chute: error: CHUTE_POOL: no pool 'gpu'; pools: default, images"
    )
