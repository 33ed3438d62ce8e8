"""Routing: which processors a job runs, and when the type must be sniffed first."""

import pytest

from chute_core.content_types import refine_type
from chute_core.errors import ChuteError
from chute_core.jobs import Job
from chute_worker.processors.registry import Registry
from chute_worker.routing import Router
from tests.support.sample_jobs import sample_job

REGISTRY = Registry.discover()


def _job(processors: list[str] | None = None) -> Job:
    return sample_job(processors=processors)


def test_exact_type_wins_over_wildcards_whatever_the_order() -> None:
    router = Router(
        {"*/*": ["inspect"], "image/*": ["thumbnail"], "image/png": ["inspect", "thumbnail"]},
        REGISTRY,
    )
    assert router.select(_job(), "image/png") == (["inspect", "thumbnail"], False)
    assert router.select(_job(), "image/gif") == (["thumbnail"], False)
    assert router.select(_job(), "text/plain") == (["inspect"], False)


def test_explicit_list_overrides_routing() -> None:
    router = Router({"*/*": ["inspect"]}, REGISTRY)
    assert router.select(_job(["tabular"]), "text/csv") == (["tabular"], True)


def test_catch_all_route_of_catch_all_processors_needs_no_type() -> None:
    assert not Router({"*/*": ["inspect"]}, REGISTRY).needs_type(_job())
    assert Router({"*/*": ["inspect"], "image/*": ["thumbnail"]}, REGISTRY).needs_type(_job())
    assert Router({"*/*": ["inspect"]}, REGISTRY).needs_type(_job(["thumbnail"]))


def test_unknown_processor_in_routes_stops_the_worker_at_start() -> None:
    with pytest.raises(ChuteError, match="unknown processor 'sharpen'"):
        Router({"*/*": ["sharpen"]}, REGISTRY)


def test_module_reference_in_routes_is_loaded_by_its_spec_name() -> None:
    router = Router({"*/*": ["tests.support.processors:AlwaysFails"]}, Registry.discover())
    assert router.rules == [("*/*", ["always-fails"])]


@pytest.mark.parametrize(
    ("declared", "filename", "expected"),
    [
        ("text/csv", None, "text/csv"),
        ("application/octet-stream", "data.tsv", "text/tab-separated-values"),
        ("text/plain; charset=utf-8", "rows.jsonl", "application/x-ndjson"),
        ("application/octet-stream", "notes.txt", "text/plain"),
    ],
)
def test_text_is_refined_by_declared_type_or_extension(
    declared: str, filename: str | None, expected: str
) -> None:
    assert refine_type("text/plain", declared, filename) == expected


def test_binary_types_are_never_overridden_by_the_client() -> None:
    assert refine_type("application/zip", "text/csv", "x.csv") == "application/zip"
