"""`inspect`: size, SHA-256, type from magic bytes; for text, encoding and line count."""

from __future__ import annotations

import codecs
import hashlib
import json
from typing import Any

from chute_core.content_types import SNIFF_BYTES, detect_type
from chute_worker.processors import ProcessorContext, ProcessorSpec

__all__ = ["InspectProcessor"]


class _TextStats:
    """Encoding (ascii, utf-8 or none) and line count, fed chunk by chunk."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.utf8 = True
        self.ascii = True
        self.lines = 0
        self.last = b""

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.utf8:
            try:
                self._decoder.decode(chunk, final)
            except UnicodeDecodeError:
                self.utf8 = False
            self.ascii = self.ascii and chunk.isascii()
        self.lines += chunk.count(b"\n")
        if chunk:
            self.last = chunk[-1:]

    def summary(self, size: int) -> dict[str, Any]:
        if not self.utf8:
            return {}
        lines = self.lines + (1 if size and self.last != b"\n" else 0)
        return {"encoding": "ascii" if self.ascii else "utf-8", "line_count": lines}


class InspectProcessor:
    spec = ProcessorSpec(
        name="inspect",
        description="size, SHA-256 and type from magic bytes; encoding and lines of text",
        timeout_seconds=600.0,
    )

    async def process(self, ctx: ProcessorContext) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        head = bytearray()
        text = _TextStats()
        async for chunk in ctx.read():
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            digest.update(chunk)
            size += len(chunk)
            text.feed(chunk)
        text.feed(b"", final=True)
        detected = detect_type(bytes(head))
        summary: dict[str, Any] = {
            "size": size,
            "sha256": digest.hexdigest(),
            "detected_type": detected,
        }
        if detected.startswith("text/"):
            summary.update(text.summary(size))
        await ctx.write_result("summary.json", json.dumps(summary).encode(), "application/json")
        return summary
