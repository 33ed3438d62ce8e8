"""Thumbnails per second per core: chute's `thumbnail` processor through the worker's
process pool (pickling the context, staging result files, one pool process) against a
bare Pillow loop doing the same decoding, resizing and encoding in one process.

Both sides use one core and the same images; runs alternate so that machine noise
hits both alike. The ratio is chute / bare (target >= 0.85)."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from bench.harness import Stat
from chute_core.jobs import JobState, ObjectInfo, new_job, new_job_id
from chute_worker.pool import ProcessorPool
from chute_worker.processors import FileContext
from chute_worker.processors.context import run_file_processor
from chute_worker.processors.thumbnail import ThumbnailProcessor, ThumbnailSettings

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
PER_KIND = int(os.environ.get("BENCH_THUMBNAIL_IMAGES", "6"))
SETTINGS = ThumbnailSettings(thumbnail_sizes=[1024, 256], thumbnail_formats=["webp", "jpeg"])


def _photo(width: int, height: int, fmt: str) -> bytes:
    """Gradient plus noise: realistic work for the JPEG and WebP encoders."""
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    picture = Image.blend(base, noise, 0.3)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, quality=90)
    return buffer.getvalue()


def images(directory: Path) -> list[Path]:
    kinds = {"jpg": _photo(4000, 3000, "JPEG"), "png": _photo(2000, 1500, "PNG")}
    paths = []
    for extension, body in kinds.items():
        for i in range(PER_KIND):
            path = directory / f"{i}.{extension}"
            path.write_bytes(body)
            paths.append(path)
    return paths


def bare_loop(paths: list[Path]) -> float:
    """What a hand-written thumbnailer does; returns thumbnails (images) per second."""
    sizes = sorted(SETTINGS.thumbnail_sizes, reverse=True)
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.draft("RGB", (sizes[0], sizes[0]))
            current = image.convert("RGB")
        for size in sizes:
            current.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
            for fmt in ("WEBP", "JPEG"):
                current.save(io.BytesIO(), format=fmt, quality=SETTINGS.thumbnail_quality)
    return len(paths) / (time.perf_counter() - started)


async def through_pool(paths: list[Path], out: Path) -> float:
    processor = ThumbnailProcessor(SETTINGS)
    pool = ProcessorPool(size=1, memory_bytes=0)
    job = new_job(
        job_id=new_job_id(),
        tenant="bench",
        obj=ObjectInfo(bucket="b", key="k"),
        ttl=timedelta(days=1),
        state=JobState.PROCESSING,
    )
    try:
        await pool.run(
            run_file_processor,
            processor,
            _ctx(job, paths[0], out),
            limit_seconds=60,
            name="warm-up",
        )
        started = time.perf_counter()
        for path in paths:
            await pool.run(
                run_file_processor,
                processor,
                _ctx(job, path, out),
                limit_seconds=60,
                name="thumbnail",
            )
        return len(paths) / (time.perf_counter() - started)
    finally:
        pool.close()


def _ctx(job: Any, path: Path, out: Path) -> FileContext:
    return FileContext(
        job=job,
        processor="thumbnail",
        content_type="image/jpeg",
        deadline=time.time() + 60,
        path=path,
        out_dir=out,
    )


def run() -> list[dict[str, Any]]:
    bare, chute = [], []
    with tempfile.TemporaryDirectory() as tmp:
        paths = images(Path(tmp))
        bare_loop(paths[:1])  # warm-up: imports and codecs
        for _ in range(REPEATS):
            bare.append(bare_loop(paths))
            chute.append(asyncio.run(through_pool(paths, Path(tmp) / "out")))
    b, c = Stat.of(bare), Stat.of(chute)
    return [
        {
            "benchmark": f"thumbnails/s per core ({len(paths)} images: 12 MP JPEG, 3 MP PNG)",
            "chute": c.median,
            "chute_spread": c.spread,
            "bare_pillow": b.median,
            "bare_spread": b.spread,
            "ratio": c.median / b.median,
            "target": ">= 0.85",
            "limited_by": "one core of CPU (decode + resize + encode)",
        }
    ]
