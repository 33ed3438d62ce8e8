import json

import pytest

from chute_core.errors import PoisonMessage
from chute_core.events import ObjectCreated, S3TestEvent, parse_body


def s3_event(key: str = "incoming/default/abc", bucket: str = "b") -> dict[str, object]:
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": key, "size": 12, "eTag": "abc123"},
                },
            }
        ]
    }


def test_raw_s3_event_is_parsed_into_object_created() -> None:
    (record,) = parse_body(json.dumps(s3_event()))  # type: ignore[misc]
    assert record == ObjectCreated(
        bucket="b",
        key="incoming/default/abc",
        size=12,
        etag="abc123",
        event_name="ObjectCreated:Put",
        event_time="2026-01-01T00:00:00.000Z",
    )


def test_sns_wrapped_event_is_unwrapped() -> None:
    envelope = {"Type": "Notification", "Message": json.dumps(s3_event(bucket="wrapped"))}
    (record,) = parse_body(json.dumps(envelope))  # type: ignore[misc]
    assert record.bucket == "wrapped"


def test_event_keys_are_url_decoded_like_s3_encodes_them() -> None:
    (record,) = parse_body(json.dumps(s3_event(key="incoming%2Fa+b%2Bc")))  # type: ignore[misc]
    assert record.key == "incoming/a b+c"


def test_s3_test_event_is_recognised() -> None:
    body = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    assert parse_body(json.dumps(body)) == S3TestEvent(bucket="b")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "unparseable_body"),
        ("[1, 2]", "unparseable_body"),
        ('{"Records": []}', "unparseable_body"),
        ('{"Records": [{"eventName": "ObjectCreated:Put"}]}', "unparseable_body"),
        (
            json.dumps(
                {"Records": [{**s3_event()["Records"][0], "eventName": "ObjectRemoved:Delete"}]}
            ),  # type: ignore[index]
            "unexpected_event",
        ),
    ],
)
def test_unprocessable_bodies_are_poison(body: str, reason: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        parse_body(body)
    assert caught.value.reason == reason
