"""Pools: routing precedence, the key scheme, the filter policies, and the one-line
refusal of every bad configuration."""

from __future__ import annotations

import json

import pytest

from chute_core.errors import PoisonMessage, SettingsError
from chute_core.keys import ObjectKeys
from chute_core.pools import ProcessorsSpanPools
from chute_core.settings import PipelineSettings, load

JOB = "0190a0b0-0000-7000-8000-000000000001"
POOLS = {"images": {"queue": "q-images"}, "bulk": {"queue": "q-bulk", "max_receive_count": 2}}
ROUTES = [
    {"pool": "images", "content_types": ["image/*"], "processors": ["thumbnail"]},
    {"pool": "bulk", "tenants": ["acme"], "processors": ["archive"]},
]


def _pipeline(monkeypatch: pytest.MonkeyPatch, pools: object, routes: object) -> PipelineSettings:
    monkeypatch.setenv("CHUTE_POOLS", json.dumps(pools))
    monkeypatch.setenv("CHUTE_POOL_ROUTES", json.dumps(routes))
    return load(PipelineSettings)


def test_without_pools_there_is_one_default_pool_on_the_pipelines_queue() -> None:
    pools = PipelineSettings().pool_set()
    (only,) = pools
    assert (only.name, only.queue, only.dlq, only.segment) == (
        "default",
        "chute-jobs",
        "chute-jobs-dlq",
        "",
    )
    assert pools.route(tenant="t", processors=None, content_type="image/png") is only
    assert pools.filter_policy(only, "incoming/") is None


def test_a_tenant_pin_wins_over_processors_which_win_over_the_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = _pipeline(monkeypatch, POOLS, ROUTES).pool_set()

    def route(tenant: str, processors: list[str] | None, content_type: str) -> str:
        return pools.route(tenant=tenant, processors=processors, content_type=content_type).name

    assert route("acme", ["thumbnail"], "image/png") == "bulk"
    assert route("t", ["archive"], "image/png") == "bulk"
    assert route("t", None, "image/png") == "images"
    assert route("t", ["inspect"], "text/csv") == "default"


def test_processors_of_two_pools_in_one_upload_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = _pipeline(monkeypatch, POOLS, ROUTES).pool_set()
    with pytest.raises(ProcessorsSpanPools, match="bulk, images"):
        pools.route(tenant="t", processors=["thumbnail", "archive"], content_type="x/y")


def test_a_pools_key_carries_its_segment_and_parses_back(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = _pipeline(monkeypatch, POOLS, ROUTES)
    pools, keys = pipeline.pool_set(), ObjectKeys.from_settings(pipeline)
    images = pools.get("images")
    key = keys.incoming("t1", JOB, images.segment)
    assert key == f"incoming/images/t1/{JOB}"
    assert keys.parse_pooled(key) == ("images", "t1", JOB)
    assert keys.parse_pooled(f"incoming/t1/{JOB}") == (None, "t1", JOB)
    assert pools.of_segment(None) is pools.default


def test_a_worker_refuses_another_pools_key_as_wrong_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    pools = _pipeline(monkeypatch, POOLS, ROUTES).pool_set()
    pools.check_serves(pools.get("images"), "images", "k")
    with pytest.raises(PoisonMessage) as refused:
        pools.check_serves(pools.default, "images", "k")
    assert refused.value.reason == "wrong_pool"


def test_each_pool_has_its_own_limits_and_dlq(monkeypatch: pytest.MonkeyPatch) -> None:
    pools = _pipeline(monkeypatch, POOLS, ROUTES).pool_set()
    bulk = pools.get("bulk")
    assert (bulk.dlq, bulk.max_receive_count, bulk.visibility_timeout_seconds) == (
        "q-bulk-dlq",
        2,
        60,
    )


def test_every_pools_filter_admits_only_its_own_prefix_in_both_spellings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = _pipeline(monkeypatch, POOLS, ROUTES).pool_set()
    policy = pools.filter_policy(pools.default, "incoming/")
    assert policy == {
        "Records": {
            "s3": {
                "object": {
                    "key": [{"prefix": "incoming%2Fdefault%2F"}, {"prefix": "incoming/default/"}]
                }
            }
        }
    }


@pytest.mark.parametrize(
    ("pools", "routes", "message"),
    [
        ({"images": {}}, [], "pool 'images' names no queue"),
        (POOLS, [{"pool": "gpu", "tenants": ["a"]}], "names pool 'gpu', which is not configured"),
        (
            POOLS,
            [{"pool": "images", "tenants": ["a"]}, {"pool": "bulk", "tenants": ["a"]}],
            "tenant 'a' is routed to both 'images' and 'bulk'",
        ),
        (
            POOLS,
            [
                {"pool": "images", "content_types": ["image/*"]},
                {"pool": "bulk", "content_types": ["image/png"]},
            ],
            "content types 'image/*' (images) and 'image/png' (bulk) overlap",
        ),
        (
            {"images": {"queue": "q"}, "bulk": {"queue": "q"}},
            [],
            "queue 'q' is used by both 'images' and 'bulk'",
        ),
        ({"images": {"queue": "chute-jobs"}}, [], "queue 'chute-jobs' is used by both"),
        ({"Images": {"queue": "q"}}, [], "CHUTE_POOLS: Images.[key]: String should match"),
        ({"images": {"queue": "q", "size": 1}}, [], "CHUTE_POOLS: images.size: Extra inputs"),
    ],
)
def test_a_bad_pool_configuration_is_one_readable_line(
    monkeypatch: pytest.MonkeyPatch, pools: object, routes: object, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        _pipeline(monkeypatch, pools, routes)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_pools_that_are_not_json_are_one_readable_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_POOLS", "images=q")
    with pytest.raises(SettingsError, match=r"^CHUTE_POOLS: not valid JSON$"):
        load(PipelineSettings)
