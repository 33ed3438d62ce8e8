"""What an object is: MIME type from magic bytes, refined by what the client declared.

Magic bytes cannot tell CSV from any other text, so a detected `text/plain` takes the
declared type or the filename's extension when those name a text format."""

from __future__ import annotations

import fnmatch

import puremagic

__all__ = ["SNIFF_BYTES", "detect_type", "matches", "refine_type"]

SNIFF_BYTES = 8192
CONTAINERS = frozenset({"application/zip", "application/x-ole-storage"})
TEXT_FORMATS = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".tab": "text/tab-separated-values",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".json": "application/json",
}
_DECLARED_TEXT = frozenset(TEXT_FORMATS.values()) | {"application/jsonl", "text/plain"}


def detect_type(head: bytes) -> str:
    """MIME type from magic bytes (puremagic's tables); plain text if it decodes as UTF-8."""
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        found = []
    typed = [m for m in found if m.mime_type]
    if typed:
        best = [m for m in typed if m.confidence == typed[0].confidence]
        if len({m.mime_type for m in best}) > 1:
            # A signature shared by several formats (docx, xlsx, ... are all zip) proves
            # only the container; name the container rather than guess a format.
            for m in best:
                if m.mime_type in CONTAINERS:
                    return str(m.mime_type)
        return str(best[0].mime_type)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniff boundary is still text.
        if exc.start < len(head) - 3:
            return "application/octet-stream"
    return "text/plain" if head else "application/x-empty"


def refine_type(detected: str, declared: str | None, filename: str | None) -> str:
    """`detected`, made specific for text: the declared type, else the extension's."""
    if detected != "text/plain":
        return detected
    declared = (declared or "").split(";")[0].strip().lower()
    if declared == "application/jsonl":
        return "application/x-ndjson"
    if declared in _DECLARED_TEXT and declared != "text/plain":
        return declared
    name = (filename or "").lower()
    for extension, content_type in TEXT_FORMATS.items():
        if name.endswith(extension):
            return content_type
    return detected


def matches(content_type: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether `content_type` fits any of `patterns` (`image/*`, `*/*`, exact types)."""
    return any(fnmatch.fnmatchcase(content_type, pattern) for pattern in patterns)
