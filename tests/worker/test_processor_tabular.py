"""The tabular processor: CSV/TSV/JSON Lines profiles in one pass."""

import json
from pathlib import Path

import pytest

from chute_core.errors import ProcessorError
from chute_worker.processors.sketch import DistinctSketch
from chute_worker.processors.tabular import TabularProcessor, TabularSettings, infer_kind
from tests.support.file_runs import run_file

PROCESSOR = TabularProcessor(TabularSettings(tabular_sample_rows=2))
CSV = (
    b"id,name,score,joined,active\n"
    b"1,ann,1.5,2024-01-02,true\n"
    b"2,bob,,2024-02-03,false\n"
    b"3,cy,7,2024-03-04,true\n"
)


def _columns(summary: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in summary["columns"]}  # type: ignore[attr-defined, index]


def test_csv_profile_has_rows_types_nulls_and_distinct_counts(tmp_path: Path) -> None:
    summary, ctx = run_file(PROCESSOR, CSV, "text/csv", tmp_path)
    assert (summary["format"], summary["rows"], summary["malformed_rows"]) == ("csv", 3, 0)
    columns = _columns(summary)
    assert {n: c["type"] for n, c in columns.items()} == {
        "id": "integer",
        "name": "string",
        "score": "number",
        "joined": "date",
        "active": "bool",
    }
    assert columns["score"]["nulls"] == 1
    assert columns["name"]["distinct_estimate"] == 3
    assert summary["sample"] == [
        {"id": "1", "name": "ann", "score": "1.5", "joined": "2024-01-02", "active": "true"},
        {"id": "2", "name": "bob", "score": "", "joined": "2024-02-03", "active": "false"},
    ]
    assert json.loads((ctx.out_dir / "profile.json").read_bytes())["rows"] == 3


def test_semicolon_delimiter_is_sniffed(tmp_path: Path) -> None:
    summary, _ = run_file(PROCESSOR, CSV.replace(b",", b";"), "text/csv", tmp_path)
    assert summary["delimiter"] == ";"
    assert len(summary["columns"]) == 5


def test_tsv_is_split_on_tabs(tmp_path: Path) -> None:
    summary, _ = run_file(
        PROCESSOR, CSV.replace(b",", b"\t"), "text/tab-separated-values", tmp_path
    )
    assert (summary["format"], summary["rows"]) == ("tsv", 3)


def test_malformed_rows_are_counted_with_line_numbers(tmp_path: Path) -> None:
    body = b"a,b\n1,2\n3\n4,5,6\n7,8\n\xff\xfe,9\n"
    summary, _ = run_file(PROCESSOR, body, "text/csv", tmp_path)
    assert summary["rows"] == 2
    assert summary["malformed_rows"] == 3
    assert summary["malformed_lines"] == [3, 4, 6]


def test_jsonl_profile_unions_keys_and_counts_bad_lines(tmp_path: Path) -> None:
    body = b'{"a": 1, "b": "x"}\n{"a": 2.5}\nnot json\n[1, 2]\n{"a": null, "c": true}\n'
    summary, _ = run_file(PROCESSOR, body, "application/x-ndjson", tmp_path)
    columns = _columns(summary)
    assert summary["rows"] == 3
    assert summary["malformed_lines"] == [3, 4]
    assert columns["a"]["type"] == "number"
    assert columns["a"]["nulls"] == 1
    assert columns["b"]["nulls"] == 2
    assert columns["c"]["nulls"] == 2
    assert columns["c"]["type"] == "bool"


def test_line_longer_than_the_limit_is_corrupt_input(tmp_path: Path) -> None:
    processor = TabularProcessor(TabularSettings(tabular_max_line_bytes=4096))
    body = b"a,b\n1," + b"x" * 10_000 + b"\n"
    with pytest.raises(ProcessorError) as caught:
        run_file(processor, body, "text/csv", tmp_path)
    assert caught.value.code == "corrupt_input"
    assert "line 2" in caught.value.message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("12", "integer"),
        ("-1.5e3", "number"),
        ("TRUE", "bool"),
        ("", "null"),
        ("NA", "null"),
        ("2024-01-02T03:04:05Z", "datetime"),
        ("hello", "string"),
        (None, "null"),
        (3, "integer"),
    ],
)
def test_kinds_are_inferred_from_values(value: object, kind: str) -> None:
    assert infer_kind(value) == kind


def test_distinct_sketch_estimates_large_cardinalities_within_15_percent() -> None:
    sketch = DistinctSketch(k=256)
    for i in range(50_000):
        sketch.add(str(i % 20_000))
    assert abs(sketch.estimate() - 20_000) / 20_000 < 0.15
