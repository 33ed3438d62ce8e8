"""Built-in processors and a plugin, end to end: upload -> S3 -> SNS -> SQS -> worker
(default routing, real process pool) -> job record and result objects."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support import files
from tests.support.jobs_api import get_job, post_file, steps, wait_job
from tests.support.processes import Server
from tests.support.rss import TreeRssSampler
from tests.support.stack import Stack

MiB = 1024 * 1024
POOL_MEMORY = 512 * MiB
POOL_SIZE = 2
WORKER_MAIN_BUDGET = 320 * MiB  # the event-loop process: clients, loop, no file bodies


@dataclass
class Pipeline:
    stack: Stack
    api: Server
    worker: Server


@pytest.fixture(scope="module")
def pipeline(module_stack: Stack, module_servers: ServerFactory) -> Pipeline:
    api = module_servers(
        "api",
        module_stack,
        CHUTE_UPLOAD_PROCESSORS="inspect,thumbnail,archive,tabular,wordcount",
    )
    worker = module_servers(
        "worker",
        module_stack,
        CHUTE_WORKER_POOL_SIZE=str(POOL_SIZE),
        CHUTE_WORKER_POOL_MEMORY_BYTES=str(POOL_MEMORY),
        CHUTE_THUMBNAIL_SIZES="256,64",
    )
    return Pipeline(module_stack, api, worker)


def _object(p: Pipeline, key: str) -> bytes:
    body: bytes = (
        p.stack.client("s3").get_object(Bucket=p.stack.pipeline.bucket, Key=key)["Body"].read()
    )
    return body


def test_image_upload_gets_webp_and_jpeg_thumbnails(pipeline: Pipeline) -> None:
    job_id = post_file(pipeline.api.url, "photo.jpg", files.image(1200, 800, "JPEG"), "image/jpeg")
    job = wait_job(pipeline.api.url, job_id)
    assert job["state"] == "SUCCEEDED", job
    assert job["detected_type"] == "image/jpeg"
    ran = steps(job)
    assert list(ran) == ["inspect", "thumbnail"]
    thumb = ran["thumbnail"]["summary"]
    assert (thumb["width"], thumb["height"], thumb["format"]) == (1200, 800, "JPEG")
    assert {(t["name"], t["width"], t["height"]) for t in thumb["thumbnails"]} == {
        ("256.webp", 256, 171),
        ("256.jpg", 256, 171),
        ("64.webp", 64, 43),
        ("64.jpg", 64, 43),
    }
    prefix = f"results/default/{job_id}/thumbnail/"
    assert sorted(thumb["objects"]) == sorted(
        prefix + n for n in ("256.webp", "256.jpg", "64.webp", "64.jpg")
    )
    assert _object(pipeline, prefix + "256.webp")[8:12] == b"WEBP"
    assert _object(pipeline, prefix + "64.jpg")[:3] == b"\xff\xd8\xff"


def test_zip_upload_gets_an_entry_listing(pipeline: Pipeline) -> None:
    body = files.zip_of({"docs/a.txt": b"a" * 5000, "b.bin": bytes(300)})
    job_id = post_file(pipeline.api.url, "bundle.zip", body, "application/zip")
    job = wait_job(pipeline.api.url, job_id)
    assert job["state"] == "SUCCEEDED", job
    listing = steps(job)["archive"]["summary"]
    assert (listing["format"], listing["entries"], listing["uncompressed_bytes"]) == (
        "zip",
        2,
        5300,
    )
    assert [e["name"] for e in listing["sample"]] == ["docs/a.txt", "b.bin"]
    assert listing["objects"] == [f"results/default/{job_id}/archive/listing.json"]


def test_csv_upload_gets_column_types_and_counts(pipeline: Pipeline) -> None:
    rows = "".join(f"{i},name-{i % 7},{i * 0.5},2024-01-{1 + i % 28:02d}\n" for i in range(500))
    body = ("id,name,score,day\n" + rows + "oops\n").encode()
    job_id = post_file(pipeline.api.url, "table.csv", body, "text/csv")
    job = wait_job(pipeline.api.url, job_id)
    assert job["state"] == "SUCCEEDED", job
    assert job["detected_type"] == "text/csv"
    profile = steps(job)["tabular"]["summary"]
    assert profile["rows"] == 500
    assert profile["malformed_lines"] == [502]
    columns = {c["name"]: c for c in profile["columns"]}
    assert {n: c["type"] for n, c in columns.items()} == {
        "id": "integer",
        "name": "string",
        "score": "number",
        "day": "date",
    }
    assert columns["name"]["distinct_estimate"] == 7
    assert abs(columns["id"]["distinct_estimate"] - 500) <= 50  # a sketch above 256 values


def test_example_plugin_runs_when_an_upload_names_it(pipeline: Pipeline) -> None:
    job_id = post_file(
        pipeline.api.url, "notes.txt", b"one two\ntwo three\n", "text/plain", "inspect,wordcount"
    )
    job = wait_job(pipeline.api.url, job_id)
    assert job["state"] == "SUCCEEDED", job
    assert job["processors"] == ["inspect", "wordcount"]
    counts = steps(job)["wordcount"]["summary"]
    assert (counts["lines"], counts["words"]) == (2, 4)
    assert counts["top_words"][0] == ["two", 2]


def test_unknown_processor_is_a_400_at_upload_time(pipeline: Pipeline) -> None:
    r = httpx.post(
        f"{pipeline.api.url}/v1/uploads",
        params={"processors": "inspect,sharpen"},
        content=b"data",
        timeout=10,
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:chute:problem:unknown-processor"
    assert "sharpen" in r.json()["detail"]


def test_explicit_processor_on_a_wrong_type_fails_as_unsupported_type_once(
    pipeline: Pipeline,
) -> None:
    job_id = post_file(pipeline.api.url, "a.txt", b"plain text", "text/plain", "thumbnail")
    job = wait_job(pipeline.api.url, job_id)
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "unsupported_type"
    assert job["attempts"] == 1


def test_hostile_inputs_fail_with_their_codes_within_seconds_in_bounded_memory(
    pipeline: Pipeline,
) -> None:
    hostile = {
        "flood.png": (files.pixel_flood_png(), "image/png", "image_bomb"),
        "bomb.zip": (files.zip_bomb(), "application/zip", "archive_bomb"),
        "nested.zip": (files.nested_zip_bomb(), "application/zip", "archive_bomb"),
        "evil.tar": (
            files.tar_of({"fine.txt": b"x", "../../etc/passwd": b"y"}),
            "application/x-tar",
            "unsafe_archive",
        ),
        "long.csv": (b"a,b\n1," + b"x" * (100 * MiB) + b"\n", "text/csv", "corrupt_input"),
    }
    bound = WORKER_MAIN_BUDGET + POOL_SIZE * POOL_MEMORY
    took = {}
    with TreeRssSampler(pipeline.worker.proc.pid) as rss:
        for name, (body, content_type, _) in hostile.items():
            job_id = post_file(pipeline.api.url, name, body, content_type)
            accepted = time.monotonic()
            job = wait_job(pipeline.api.url, job_id, timeout=60)
            took[name] = (job, time.monotonic() - accepted)
    for name, (_, _, code) in hostile.items():
        job, seconds = took[name]
        assert job["state"] == "FAILED", (name, job)
        assert job["error"]["code"] == code, (name, job["error"])
        assert job["error"]["retryable"] is False
        assert job["attempts"] == 1
        assert seconds < 20, f"{name} took {seconds:.1f}s"
    print({name: round(s, 2) for name, (_, s) in took.items()}, f"peak {rss.peak / MiB:.0f} MiB")
    assert rss.peak < bound, f"worker tree peaked at {rss.peak / MiB:.0f} MiB"
    assert pipeline.worker.rss_peak_bytes() < WORKER_MAIN_BUDGET


def _lag_over(metrics_text: str, bound: str = "0.1") -> float:
    """Loop-lag observations above `bound` seconds (count minus the bucket's count)."""
    count = bucket = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("chute_worker_event_loop_lag_seconds_count"):
            count = float(line.split()[-1])
        if line.startswith(f'chute_worker_event_loop_lag_seconds_bucket{{le="{bound}"}}'):
            bucket = float(line.split()[-1])
    return count - bucket


def test_event_loop_and_health_stay_responsive_while_40_megapixels_are_thumbnailed(
    pipeline: Pipeline,
) -> None:
    body = files.image(8000, 5000)  # 40 megapixels to decode and shrink
    health = f"{pipeline.worker.url}/healthz"
    before = _lag_over(httpx.get(f"{pipeline.worker.url}/metrics").text)
    job_id = post_file(pipeline.api.url, "big.png", body, "image/png", "thumbnail")
    latencies = []
    processing_seen = 0
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=5) as probe:
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert probe.get(health).status_code == 200
            latencies.append(time.monotonic() - started)
            state = probe.get(f"{pipeline.api.url}/v1/jobs/{job_id}").json()["state"]
            if state == "PROCESSING":
                processing_seen += 1
            elif state in ("SUCCEEDED", "FAILED"):
                break
    job = get_job(pipeline.api.url, job_id)
    assert job["state"] == "SUCCEEDED", job
    thumb = steps(job)["thumbnail"]
    assert (thumb["summary"]["width"], thumb["summary"]["height"]) == (8000, 5000)
    assert processing_seen >= 5, "the job finished before responsiveness could be measured"
    after = _lag_over(httpx.get(f"{pipeline.worker.url}/metrics").text)
    print(
        f"thumbnail {thumb['seconds']:.2f}s, health max {max(latencies) * 1000:.0f} ms "
        f"over {len(latencies)} probes, loop lags >100 ms: {after - before:.0f}"
    )
    assert after - before == 0
    assert max(latencies) < 0.1
