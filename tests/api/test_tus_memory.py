"""A tus upload streams too: the API's peak RSS over a 1 GiB upload in 128 MiB PATCHes
stays within 64 MiB of where it started (its own file, so that the test runners can
run it beside the streamed-upload one)."""

import httpx
import pytest

from tests.api.test_streaming_memory import MAX_GROWTH_BYTES, MiB, pattern
from tests.conftest import ServerFactory
from tests.support.stack import Stack

TUS_BYTES = 1024 * MiB
TUS_CHUNK = 128 * MiB


@pytest.mark.slow
def test_api_peak_rss_growth_over_a_1_gib_tus_upload_stays_under_64_mib(
    stack: Stack, servers: ServerFactory
) -> None:
    api = servers("api", stack)
    tus = f"{api.url}/v1/tus/"
    headers = {"Tus-Resumable": "1.0.0"}
    stream = {**headers, "Content-Type": "application/offset+octet-stream"}
    warm = httpx.post(tus, content=b"warm-up", headers={**stream, "Upload-Length": "7"})
    assert warm.status_code == 201, warm.text
    baseline = api.rss_peak_bytes()
    created = httpx.post(tus, headers={**headers, "Upload-Length": str(TUS_BYTES)})
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    for offset in range(0, TUS_BYTES, TUS_CHUNK):
        r = httpx.patch(
            location,
            content=pattern(TUS_CHUNK),
            headers={**stream, "Upload-Offset": str(offset), "Content-Length": str(TUS_CHUNK)},
            timeout=300,
        )
        assert r.status_code == 204, r.text
    growth = api.rss_peak_bytes() - baseline
    status = httpx.get(f"{api.url}/v1/jobs/{location.rsplit('/', 1)[1]}")
    assert status.status_code == 200, status.text
    job = status.json()
    assert job["object"]["size"] == TUS_BYTES
    assert job["state"] in ("QUEUED", "PROCESSING", "SUCCEEDED")
    print(f"peak RSS growth for a {TUS_BYTES // MiB} MiB tus upload: {growth / MiB:.1f} MiB")
    assert growth < MAX_GROWTH_BYTES, f"peak RSS grew {growth / MiB:.1f} MiB"
