"""docs/settings.md names every CHUTE_ setting of every settings class, so a new
setting cannot ship undocumented."""

from __future__ import annotations

import re

import pytest
from pydantic_settings import BaseSettings

from chute_api.settings import ApiSettings
from chute_core.settings import AwsSettings, LogSettings, PipelineSettings, WebhookSettings
from chute_ops.settings import ClientSettings, DevSettings, ReconcilerSettings
from chute_ops.subscribers import SubscriberSettings
from chute_worker.settings import WorkerSettings
from tests.support.processes import REPO

CLASSES = [
    LogSettings,
    AwsSettings,
    PipelineSettings,
    WebhookSettings,
    ApiSettings,
    WorkerSettings,
    DevSettings,
    ReconcilerSettings,
    SubscriberSettings,
    ClientSettings,
]
LINES = (REPO / "docs/settings.md").read_text().splitlines()


def documented(variable: str) -> bool:
    """Named in full, or as a `_SUFFIX` beside a variable of the same prefix
    (`CHUTE_RATE_UPLOADS_PER_SECOND` / `_BURST`)."""
    for line in LINES:
        if f"`{variable}`" in line:
            return True
        for suffix in re.findall(r"`(_[A-Z0-9_]+)`", line):
            prefix = variable.removesuffix(suffix)
            if prefix != variable and re.search(rf"`{prefix}_[A-Z0-9_]+`", line):
                return True
    return False


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_setting_is_in_the_reference(cls: type[BaseSettings]) -> None:
    missing = [
        f"CHUTE_{n.upper()}" for n in cls.model_fields if not documented(f"CHUTE_{n.upper()}")
    ]
    assert not missing


def test_an_undocumented_name_is_noticed() -> None:
    assert documented("CHUTE_RATE_UPLOADS_BURST")
    assert not documented("CHUTE_RATE_UPLOADS_NOWHERE")
    assert not documented("CHUTE_NO_SUCH_SETTING")
