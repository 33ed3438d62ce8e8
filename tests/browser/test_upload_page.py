"""The upload page in headless Chromium: Uppy's Dashboard uploading straight to S3
through chute's Companion-style routes, against bucket CORS rules that are enforced."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Page, Request
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.conftest import Site, Tab, write_file

MiB = 1024 * 1024
SCREENSHOT_DIR = os.environ.get("CHUTE_SCREENSHOT_DIR")  # set to refresh docs/images/


def _jpeg(target_bytes: int) -> bytes:
    """A noisy JPEG of about `target_bytes` (noise does not compress)."""
    side = int((target_bytes / 1.1) ** 0.5)
    rng = random.Random(7)
    picture = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _open(page: Page, url: str, key: str) -> None:
    page.goto(url)
    page.get_by_label("API key").fill(key)


def _add_and_upload(page: Page, path: Path) -> None:
    page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(str(path))
    page.locator(".uppy-StatusBar-actionBtn--upload").click()


def _state_of(tab: Tab, name: str, state: str, timeout_s: float = 60) -> None:
    item = tab.page.locator("#jobs li", has_text=name)
    try:
        item.locator(f'.state[data-state="{state}"]').wait_for(timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        messages = tab.page.locator("#messages").inner_text()
        jobs = tab.page.locator("#jobs").inner_text()
        raise AssertionError(
            f"{name} never {state}: jobs={jobs!r} messages={messages!r} "
            f"console={tab.console.errors!r}"
        ) from None


def test_a_jpeg_from_another_allowed_origin_succeeds_and_shows_its_thumbnail(
    site: Site, tab: Tab, tmp_path: Path
) -> None:
    data = _jpeg(200 * 1024)
    path = write_file(tmp_path, "photo.jpg", data)
    _open(tab.page, site.mirror, site.key)
    _add_and_upload(tab.page, path)
    _state_of(tab, "photo.jpg", "SUCCEEDED")
    thumbnail = tab.page.locator("#jobs li", has_text="photo.jpg").locator("img").first
    thumbnail.wait_for()
    tab.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    if SCREENSHOT_DIR:
        tab.page.screenshot(path=str(Path(SCREENSHOT_DIR) / "upload-page.png"), full_page=True)
    assert tab.console.errors == []


class Traffic:
    """Every request the page sent, as the browser sent it."""

    def __init__(self, page: Page) -> None:
        self.finished: list[Request] = []
        page.on("requestfinished", lambda request: self.finished.append(request))

    def part_puts(self) -> list[int]:
        """Part numbers of the part PUTs S3 answered 2xx, in order."""
        numbers = []
        for request in self.finished:
            query = dict(
                q.split("=", 1) for q in request.url.partition("?")[2].split("&") if "=" in q
            )
            response = request.response()
            if request.method == "PUT" and "partNumber" in query and response and response.ok:
                numbers.append(int(query["partNumber"]))
        return numbers


def _api_body_bytes(site: Site) -> float:
    """What the API process received as request bodies, by its own counter."""
    text = httpx.get(f"{site.api.url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "chute_http_request_body_bytes"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def _job_of(site: Site, name: str) -> dict[str, object]:
    jobs = [j for j in site.jobs() if j["object"]["filename"] == name]
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_a_40_mib_file_goes_multipart_in_5_mib_parts_bypassing_the_api(
    site: Site, tab: Tab, tmp_path: Path
) -> None:
    data = random.Random(40).randbytes(40 * MiB)
    path = write_file(tmp_path, "big.bin", data)
    traffic = Traffic(tab.page)
    received_before = _api_body_bytes(site)
    _open(tab.page, site.page_url, site.key)
    _add_and_upload(tab.page, path)
    _state_of(tab, "big.bin", "SUCCEEDED", timeout_s=120)
    assert sorted(traffic.part_puts()) == list(range(1, 9))  # 8 parts: 5 MiB each
    assert 0 < _api_body_bytes(site) - received_before < MiB  # the JSON, not the file
    assert _job_of(site, "big.bin")["sha256"] == hashlib.sha256(data).hexdigest()
    assert tab.console.errors == []
