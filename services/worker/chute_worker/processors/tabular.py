"""`tabular`: profile CSV/TSV and JSON Lines in one streaming pass.

Row count, columns, inferred types, null and distinct-estimate counts per column and
a sample of rows. Malformed rows (wrong field count, invalid JSON, undecodable bytes)
are counted with their line numbers and skipped. A line longer than the configured
maximum cannot be profiled in bounded memory: the job fails as `corrupt_input`."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Annotated, Any

from pydantic import Field
from pydantic_settings import BaseSettings

from chute_core.errors import ProcessorError
from chute_core.settings import CONFIG, load
from chute_worker.processors import FileContext, ProcessorSpec
from chute_worker.processors.sketch import DistinctSketch

__all__ = ["TabularProcessor", "TabularSettings", "infer_kind"]

MiB = 1024 * 1024
JSONL = frozenset({"application/x-ndjson", "application/jsonl"})
ACCEPTS = ("text/csv", "text/tab-separated-values", *sorted(JSONL))
SUMMARY_COLUMNS = 50
SAMPLE_CHARS = 200
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_BOOL = frozenset({"true", "false"})
_NULLS = frozenset({"", "null", "NULL", "NA", "N/A", "None"})


class TabularSettings(BaseSettings):
    model_config = CONFIG

    tabular_max_line_bytes: Annotated[int, Field(ge=1024)] = 1 * MiB
    tabular_max_columns: Annotated[int, Field(ge=1)] = 1000
    tabular_sample_rows: Annotated[int, Field(ge=0, le=100)] = 5
    tabular_malformed_listed: Annotated[int, Field(ge=0)] = 100
    tabular_max_input_bytes: Annotated[int, Field(ge=1)] = 4 * 1024 * MiB
    tabular_timeout_seconds: Annotated[float, Field(gt=0)] = 300.0


def infer_kind(value: object) -> str:
    """The type a value reads as: null, bool, integer, number, date, datetime, string
    (JSON values keep their own type: object, array)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    text = str(value).strip()
    if text in _NULLS:
        return "null"
    if text.lower() in _BOOL:
        return "bool"
    if _INT.match(text):
        return "integer"
    if _FLOAT.match(text):
        return "number"
    if _DATE.match(text):
        return "date"
    if _DATETIME.match(text):
        return "datetime"
    return "string"


@dataclass
class Column:
    name: str
    kinds: dict[str, int] = field(default_factory=dict)
    nulls: int = 0
    distinct: DistinctSketch = field(default_factory=DistinctSketch)

    def add(self, value: object) -> None:
        kind = infer_kind(value)
        if kind == "null":
            self.nulls += 1
            return
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.distinct.add(value if isinstance(value, str) else json.dumps(value, sort_keys=True))

    @property
    def type(self) -> str:
        kinds = set(self.kinds)
        if not kinds:
            return "null"
        if kinds == {"integer", "number"}:
            return "number"
        if kinds == {"date", "datetime"}:
            return "datetime"
        return kinds.pop() if len(kinds) == 1 else "string"

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "nulls": self.nulls,
            "distinct_estimate": self.distinct.estimate(),
        }


@dataclass
class Profile:
    settings: TabularSettings
    columns: list[Column] = field(default_factory=list)
    rows: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)

    def bad(self, line: int) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < self.settings.tabular_malformed_listed:
            self.malformed_lines.append(line)

    def row(self, values: dict[str, object]) -> None:
        self.rows += 1
        for column in self.columns:
            column.add(values.get(column.name))
        if len(self.sample) < self.settings.tabular_sample_rows:
            self.sample.append({k: _clip(v) for k, v in values.items()})

    def ensure(self, names: list[str]) -> None:
        known = {c.name for c in self.columns}
        for name in names:
            if name not in known:
                if len(self.columns) >= self.settings.tabular_max_columns:
                    raise ProcessorError(
                        "corrupt_input",
                        f"more than {self.settings.tabular_max_columns} columns",
                        retryable=False,
                    )
                column = Column(name)
                column.nulls = self.rows  # absent from every earlier row
                self.columns.append(column)
                known.add(name)


def _clip(value: object) -> object:
    if isinstance(value, str) and len(value) > SAMPLE_CHARS:
        return value[:SAMPLE_CHARS] + "…"
    return value


class TabularProcessor:
    def __init__(self, settings: TabularSettings | None = None) -> None:
        self.settings = settings or load(TabularSettings)
        self.spec = ProcessorSpec(
            name="tabular",
            accepts=ACCEPTS,
            max_input_bytes=self.settings.tabular_max_input_bytes,
            timeout_seconds=self.settings.tabular_timeout_seconds,
            cpu_bound=True,
            description="CSV/TSV/JSON Lines profile: types, nulls, distinct counts, sample",
        )

    def process_file(self, ctx: FileContext) -> dict[str, Any]:
        profile = Profile(self.settings)
        with ctx.open() as f:
            if ctx.content_type in JSONL:
                fmt, delimiter = "jsonl", None
                self._jsonl(f, profile)
            else:
                delimiter = self._delimiter(f, ctx.content_type)
                fmt = "tsv" if delimiter == "\t" else "csv"
                self._csv(f, delimiter, profile)
        columns = [c.record() for c in profile.columns]
        report = {
            "format": fmt,
            "delimiter": delimiter,
            "rows": profile.rows,
            "columns": columns,
            "malformed_rows": profile.malformed,
            "malformed_lines": profile.malformed_lines,
            "sample": profile.sample,
        }
        ctx.write_result("profile.json", json.dumps(report).encode(), "application/json")
        return {
            **report,
            "columns": columns[:SUMMARY_COLUMNS],
            "column_count": len(columns),
            "malformed_lines": profile.malformed_lines[:20],
        }

    def _lines(self, f: IO[bytes]) -> Iterator[tuple[int, str | None]]:
        """(line number, text or None when undecodable), each line bounded in length."""
        limit = self.settings.tabular_max_line_bytes
        number = 0
        while raw := f.readline(limit + 1):
            number += 1
            if len(raw) > limit and not raw.endswith(b"\n"):
                raise ProcessorError(
                    "corrupt_input",
                    f"line {number} is longer than {limit} bytes",
                    retryable=False,
                )
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield number, None

    def _delimiter(self, f: IO[bytes], content_type: str) -> str:
        if content_type == "text/tab-separated-values":
            return "\t"
        head = f.read(64 * 1024)
        f.seek(0)
        try:
            text = head.decode("utf-8", "ignore")
            return csv.Sniffer().sniff(text[: text.rfind("\n") + 1] or text, ",;\t|").delimiter
        except csv.Error:
            return ","

    def _csv(self, f: IO[bytes], delimiter: str, profile: Profile) -> None:
        # csv's own field limit (128 KiB) would reject long but legal fields that the
        # line limit already bounds.
        csv.field_size_limit(max(self.settings.tabular_max_line_bytes, 128 * 1024))
        lines = self._lines(f)
        current = 0

        def texts() -> Iterator[str]:
            nonlocal current
            for number, text in lines:
                current = number
                if text is None:
                    profile.bad(number)
                    continue
                yield text

        reader = csv.reader(texts(), delimiter=delimiter)
        header: list[str] | None = None
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error:
                profile.bad(current)
                continue
            if header is None:
                header = [name.strip() or f"column_{i + 1}" for i, name in enumerate(fields)]
                profile.ensure(header)
                continue
            if not fields:
                continue  # blank line
            if len(fields) != len(header):
                profile.bad(current)
                continue
            profile.row(dict(zip(header, fields, strict=True)))

    def _jsonl(self, f: IO[bytes], profile: Profile) -> None:
        for number, text in self._lines(f):
            if text is None:
                profile.bad(number)
                continue
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                profile.bad(number)
                continue
            if not isinstance(value, dict):
                profile.bad(number)
                continue
            profile.ensure(list(value))
            profile.row(value)
