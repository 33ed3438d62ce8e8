"""Client file names are metadata only (never part of an S3 key): keep the last path
segment, drop control and format characters, normalise, and bound the length."""

from __future__ import annotations

import unicodedata

from chute_api.errors import BadUpload

__all__ = ["MAX_FILENAME_CHARS", "sanitize_filename"]

MAX_FILENAME_CHARS = 255


def sanitize_filename(name: str | None) -> str | None:
    if name is None:
        return None
    if len(name) > MAX_FILENAME_CHARS * 4:
        raise BadUpload(f"the file name is longer than {MAX_FILENAME_CHARS} characters")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C"
    ).strip()
    if clean in ("", ".", ".."):
        return None
    if len(clean) > MAX_FILENAME_CHARS:
        raise BadUpload(f"the file name is longer than {MAX_FILENAME_CHARS} characters")
    return clean
