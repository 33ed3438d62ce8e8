"""Token buckets: burst, refill, per tenant, and each replica's share."""

import pytest

from chute_api.errors import RateLimited
from chute_api.rate_limit import RateLimiter


def test_burst_is_allowed_then_refused_with_the_wait_until_the_next_token() -> None:
    limiter = RateLimiter("uploads", per_second=2, burst=3)
    for remaining in (2, 1, 0):
        assert limiter.take("a", now=100.0).remaining == remaining
    with pytest.raises(RateLimited) as refused:
        limiter.take("a", now=100.0)
    assert refused.value.quota.retry_after == 1
    assert refused.value.quota.headers()["Retry-After"] == "1"
    assert limiter.take("a", now=100.5).remaining == 0  # one token back after 0.5 s


def test_tenants_have_separate_buckets() -> None:
    limiter = RateLimiter("reads", per_second=1, burst=1)
    limiter.take("a", now=0.0)
    with pytest.raises(RateLimited):
        limiter.take("a", now=0.0)
    assert limiter.take("b", now=0.0).remaining == 0


def test_each_replica_enforces_its_share_of_the_tenant_budget() -> None:
    limiter = RateLimiter("uploads", per_second=10, burst=20, replicas=4)
    quota = limiter.take("a", now=0.0)
    assert (quota.limit, quota.rate) == (5, 2.5)


def test_headers_describe_the_policy() -> None:
    quota = RateLimiter("uploads", per_second=10, burst=20).take("a", now=0.0)
    assert quota.headers() == {
        "RateLimit-Limit": "20",
        "RateLimit-Remaining": "19",
        "RateLimit-Reset": "1",
        "RateLimit-Policy": "20;w=2;name=uploads",
    }


def test_zero_rate_disables_the_limit() -> None:
    assert not RateLimiter("reads", per_second=0, burst=1).enabled
