"""Tenant policy files: strict about their shape, with a readable reason."""

from pathlib import Path

import pytest

from chute_api.tenants import TenantBook, TenantPolicy
from chute_core.errors import ChuteError


def test_listed_tenants_get_their_policy_and_others_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text("acme:\n  max_upload_bytes: 10\n  content_types: ['image/*']\n")
    book = TenantBook(path)
    assert book.policy("acme") == TenantPolicy(max_upload_bytes=10, content_types=["image/*"])
    assert book.policy("other") == TenantPolicy()
    assert TenantBook(None).policy("acme") == TenantPolicy()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("acme:\n  max_upload_bytes: -5\n", "acme.max_upload_bytes"),
        ("acme:\n  colour: blue\n", "acme.colour"),
        ("Not/A/Tenant: {}\n", "invalid tenant name"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_broken_policy_files_name_the_problem(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(content)
    with pytest.raises(ChuteError, match=reason):
        TenantBook.validate(path)
