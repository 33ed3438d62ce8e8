"""The API streams: its peak RSS must not grow with the size of the upload."""

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.stack import Stack

MiB = 1024 * 1024
UPLOAD_BYTES = 256 * MiB
MAX_GROWTH_BYTES = 64 * MiB


def pattern(total: int, chunk: int = MiB) -> Iterator[bytes]:
    block = bytes(range(256)) * (chunk // 256)
    for _ in range(total // chunk):
        yield block


@pytest.mark.slow
def test_api_peak_rss_growth_streaming_256_mib_stays_under_64_mib(
    stack: Stack, servers: ServerFactory
) -> None:
    api = servers("api", stack)
    # Warm up: the first request imports and allocates what every request needs.
    warm = httpx.post(f"{api.url}/v1/uploads", content=b"warm-up")
    assert warm.status_code == 202
    baseline = api.rss_peak_bytes()
    r = httpx.post(
        f"{api.url}/v1/uploads",
        content=pattern(UPLOAD_BYTES),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(UPLOAD_BYTES)},
        timeout=300,
    )
    assert r.status_code == 202, r.text
    growth = api.rss_peak_bytes() - baseline
    job = httpx.get(r.json()["status_url"]).json()
    assert job["object"]["size"] == UPLOAD_BYTES
    print(f"peak RSS growth for {UPLOAD_BYTES // MiB} MiB: {growth / MiB:.1f} MiB")
    assert growth < MAX_GROWTH_BYTES, f"peak RSS grew {growth / MiB:.1f} MiB"
