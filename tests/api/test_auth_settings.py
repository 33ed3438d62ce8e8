"""Authentication settings refuse incomplete or weak configurations with one line;
the keys file is strict about its shape and survives a broken edit."""

from pathlib import Path

import pytest

from chute_api.api_keys import KeyFile, KeyRing, new_key
from chute_api.settings import ApiSettings
from chute_core.errors import ChuteError, SettingsError
from chute_core.settings import load


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "CHUTE_API_KEYS_FILE is required when CHUTE_AUTH includes keys"),
        (
            {"CHUTE_AUTH": "jwt"},
            "CHUTE_AUTH=jwt needs CHUTE_JWT_ISSUER, CHUTE_JWT_AUDIENCE, CHUTE_JWT_JWKS_URL",
        ),
        ({"CHUTE_AUTH": "none,keys"}, "CHUTE_AUTH must be keys, jwt, keys,jwt or none"),
        ({"CHUTE_AUTH": "basic"}, "CHUTE_AUTH must be keys, jwt, keys,jwt or none"),
        (
            {
                "CHUTE_AUTH": "jwt",
                "CHUTE_JWT_ISSUER": "https://i",
                "CHUTE_JWT_AUDIENCE": "a",
                "CHUTE_JWT_JWKS_URL": "https://i/jwks",
                "CHUTE_JWT_ALGORITHMS": "RS256,HS256",
            },
            "CHUTE_JWT_ALGORITHMS: HS256 is not allowed",
        ),
    ],
)
def test_incomplete_or_weak_auth_settings_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load(ApiSettings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_keys_and_jwt_together_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_AUTH", "keys,jwt")
    monkeypatch.setenv("CHUTE_API_KEYS_FILE", "/k.yaml")
    monkeypatch.setenv("CHUTE_JWT_ISSUER", "https://i")
    monkeypatch.setenv("CHUTE_JWT_AUDIENCE", "a")
    monkeypatch.setenv("CHUTE_JWT_JWKS_URL", "https://i/jwks")
    assert load(ApiSettings).auth == ["keys", "jwt"]


def test_key_ring_maps_keys_to_tenants_and_keeps_them_through_a_broken_edit(
    tmp_path: Path,
) -> None:
    keys = KeyFile(tmp_path / "keys.yaml")
    key = new_key()
    keys.add("acme", key)
    ring = KeyRing(keys.path, check_interval=0)
    assert ring.tenant_for(key) == "acme"
    assert ring.tenant_for(new_key()) is None
    keys.path.write_text("acme: [not-a-hash]\n")
    assert ring.tenant_for(key) == "acme"


def test_keys_file_in_json_is_read_too(tmp_path: Path) -> None:
    key = new_key()
    from chute_api.api_keys import hash_key

    path = tmp_path / "keys.json"
    path.write_text(f'{{"acme": ["{hash_key(key)}"]}}')
    assert KeyRing(path).tenant_for(key) == "acme"


@pytest.mark.parametrize(
    "content", ["- a list\n", "Acme: []\n", "acme: [abc]\n", "acme: nope\n", "{{{"]
)
def test_malformed_keys_files_are_refused_with_the_reason(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(ChuteError, match=str(path)):
        KeyFile(path).load()


def test_revoke_needs_an_unambiguous_prefix(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "keys.yaml")
    digest = keys.add("acme", new_key())
    with pytest.raises(ChuteError, match="at least 8"):
        keys.revoke(digest[:4])
    assert keys.revoke(digest[:10]) == ("acme", digest)
    assert keys.load() == {}


def test_several_replicas_without_a_shared_cursor_secret_stop_start_up() -> None:
    with pytest.raises(ValueError, match="CHUTE_CURSOR_SECRET is required"):
        ApiSettings(auth=["none"], api_replicas=2)
    assert ApiSettings(auth=["none"], api_replicas=2, cursor_secret="s").api_replicas == 2
