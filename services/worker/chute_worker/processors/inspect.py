"""`inspect`: size, SHA-256 and the MIME type detected from the object's magic bytes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import puremagic

from chute_worker.processors import ProcessorContext

__all__ = ["InspectProcessor", "detect_type"]

SNIFF_BYTES = 8192
CONTAINERS = frozenset({"application/zip", "application/x-ole-storage"})


def detect_type(head: bytes) -> str:
    """MIME type from magic bytes (puremagic's tables); plain text if it decodes as UTF-8."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        matches = []
    typed = [m for m in matches if m.mime_type]
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


class InspectProcessor:
    name = "inspect"

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        head = bytearray()
        async for chunk in ctx.read():
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            digest.update(chunk)
            size += len(chunk)
        summary = {
            "size": size,
            "sha256": digest.hexdigest(),
            "detected_type": detect_type(bytes(head)),
        }
        key = await ctx.write_result(
            "inspect.json", json.dumps(summary).encode(), "application/json"
        )
        return {**summary, "objects": [key]}
