"""`wordcount`: lines, words, characters and the most common words of a text upload.

A complete third-party processor: a class with a `spec` and `process_file`, and an
entry point in pyproject.toml. It is CPU-bound, so the worker runs it in its process
pool on a spooled copy of the object, and uploads what it stages with `write_result`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from chute_core.errors import ProcessorError
from chute_worker.processors import FileContext, ProcessorSpec

__all__ = ["WordCount"]

WORD = re.compile(r"\w+", re.UNICODE)
MAX_LINE = 1024 * 1024


class WordCount:
    spec = ProcessorSpec(
        name="wordcount",
        accepts=("text/*",),
        max_input_bytes=256 * 1024 * 1024,
        timeout_seconds=120.0,
        cpu_bound=True,
        description="lines, words, characters and the top words of text",
    )

    def process_file(self, ctx: FileContext) -> dict[str, Any]:
        lines = words = characters = 0
        top: Counter[str] = Counter()
        with ctx.open() as f:
            while raw := f.readline(MAX_LINE + 1):
                if len(raw) > MAX_LINE:
                    raise ProcessorError(
                        "corrupt_input",
                        f"line {lines + 1} is over {MAX_LINE} bytes",
                        retryable=False,
                    )
                text = raw.decode("utf-8", "replace")
                lines += 1
                characters += len(text)
                found = WORD.findall(text.lower())
                words += len(found)
                top.update(found)
        summary = {
            "lines": lines,
            "words": words,
            "characters": characters,
            "top_words": top.most_common(10),
        }
        ctx.write_result("counts.json", json.dumps(summary).encode(), "application/json")
        return summary
