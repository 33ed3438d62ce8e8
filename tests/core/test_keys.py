import pytest

from chute_core.errors import PoisonMessage
from chute_core.jobs import new_job_id
from chute_core.keys import ObjectKeys

KEYS = ObjectKeys("incoming/", "results/")


def test_incoming_key_round_trips_to_tenant_and_job() -> None:
    job_id = new_job_id()
    assert KEYS.parse_incoming(KEYS.incoming("acme", job_id)) == ("acme", job_id)


def test_result_keys_live_outside_the_incoming_prefix() -> None:
    key = KEYS.result("acme", new_job_id(), "inspect.json")
    assert key.startswith("results/acme/")
    with pytest.raises(PoisonMessage) as caught:
        KEYS.parse_incoming(key)
    assert caught.value.reason == "unknown_prefix"


@pytest.mark.parametrize(
    "key",
    ["incoming/acme", "incoming/acme/not-a-job-id", "incoming/Bad Tenant/x", "incoming/a/b/c"],
)
def test_malformed_incoming_keys_are_poison(key: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        KEYS.parse_incoming(key)
    assert caught.value.reason == "malformed_key"


def test_tenant_with_a_slash_cannot_become_a_key() -> None:
    with pytest.raises(ValueError, match="invalid tenant"):
        KEYS.incoming("a/b", new_job_id())
