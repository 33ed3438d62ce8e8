"""Extra subscribers to the pipeline's topic (audit, analytics…), as configuration:
CHUTE_SUBSCRIBERS is a JSON list of these; `chute bootstrap` creates and reconciles
their subscriptions (and, for an SQS subscriber named by queue name, the queue)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from chute_core.settings import CONFIG

__all__ = ["Subscriber", "SubscriberSettings"]

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$")


class Subscriber(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["sqs", "https"]
    # sqs: a queue name (bootstrap creates the queue and lets the topic send to it) or a
    # queue ARN (someone else's queue: its policy must let the topic send). https: a URL,
    # which confirms the subscription itself.
    endpoint: str
    filter_policy: dict[str, Any] | None = None
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageBody"
    raw_message_delivery: bool = False

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> Subscriber:
        if self.protocol == "sqs" and not (
            _QUEUE_NAME.match(self.endpoint) or _SQS_ARN.match(self.endpoint)
        ):
            raise ValueError(f"{self.endpoint!r} is neither an SQS queue name nor a queue ARN")
        if self.protocol == "https" and not self.endpoint.startswith("https://"):
            raise ValueError(f"{self.endpoint!r} is not an https:// URL")
        return self

    @property
    def queue_name(self) -> str | None:
        """The queue bootstrap owns for this subscriber (None: not an SQS queue name)."""
        return self.endpoint if self.protocol == "sqs" and ":" not in self.endpoint else None


class SubscriberSettings(BaseSettings):
    model_config = CONFIG

    subscribers: list[Subscriber] = Field(default_factory=list)

    @field_validator("subscribers")
    @classmethod
    def _each_once(cls, value: list[Subscriber]) -> list[Subscriber]:
        endpoints = [(s.protocol, s.endpoint) for s in value]
        for i, endpoint in enumerate(endpoints):
            if endpoint in endpoints[:i]:
                raise ValueError(f"{endpoint[1]!r} is listed twice")
        return value
