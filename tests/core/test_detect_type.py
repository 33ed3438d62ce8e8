import pytest

from chute_core.content_types import detect_type


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04" + bytes(64), "application/zip"),
        (b"hello, chute\n", "text/plain"),
        ("h\u00e9llo".encode(), "text/plain"),
        (bytes(range(256)) * 4, "application/octet-stream"),
        (b"", "application/x-empty"),
    ],
)
def test_type_is_detected_from_magic_bytes(head: bytes, expected: str) -> None:
    assert detect_type(head) == expected


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    head = ("a" * 10 + "\u00e9").encode()[:-1]
    assert detect_type(head) == "text/plain"
