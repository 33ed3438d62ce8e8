"""The upload page in headless Chromium: Uppy's Dashboard uploading straight to S3
through chute's Companion-style routes, against bucket CORS rules that are enforced."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, Request, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import Site, Tab, write_file
from tests.support.polling import wait_until
from tests.support.scrape import metric_sum

MiB = 1024 * 1024
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")  # set to docs/images to refresh the docs


def _jpeg(target_bytes: int) -> bytes:
    """A noisy JPEG of about `target_bytes` (noise does not compress)."""
    side = int((target_bytes / 0.74) ** 0.5)  # about 0.74 bytes a pixel at quality 85
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
    assert 180 * 1024 < len(data) < 230 * 1024
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
    return metric_sum(site.api.url, "chute_http_request_body_bytes_total")


def _part_number(request: Request) -> list[int]:
    found = re.search(r"[?&]partNumber=(\d+)", request.url)
    return [int(found.group(1))] if request.method == "PUT" and found else []


# Golden Retriever has the file's blob (IndexedDB) and its multipart upload id (the
# state in localStorage): what a reload needs to resume.
_SAVED_FOR_RESUME = """async () => {
  const state = Object.keys(localStorage).filter((k) => k.startsWith("uppyState:"))
    .some((k) => localStorage[k].includes("uploadId"));
  const blobs = await new Promise((resolve) => {
    const open = indexedDB.open("uppy-blobs");
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.length) return resolve(0);
      const name = db.objectStoreNames[0];
      const count = db.transaction(name).objectStore(name).count();
      count.onsuccess = () => resolve(count.result);
      count.onerror = () => resolve(0);
    };
    open.onerror = () => resolve(0);
  });
  return state && blobs > 0;
}"""


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


def test_a_reload_mid_multipart_resumes_without_resending_finished_parts(
    site: Site, tab: Tab, tmp_path: Path
) -> None:
    data = random.Random(25).randbytes(25 * MiB)  # five parts
    path = write_file(tmp_path, "resume.bin", data)
    held: list[Route] = []

    def hold_late_parts(route: Route) -> None:
        if re.search(r"[?&]partNumber=[12](&|$)", route.request.url):
            route.continue_()
        else:
            held.append(route)  # never answered: the reload cuts these parts off

    parts = re.compile(r".*[?&]partNumber=.*")
    tab.page.route(parts, hold_late_parts)
    before = Traffic(tab.page)
    _open(tab.page, site.page_url, site.key)
    _add_and_upload(tab.page, path)
    wait_until(lambda: sorted(before.part_puts()) == [1, 2], timeout=60, what="parts 1 and 2")
    tab.page.wait_for_function(_SAVED_FOR_RESUME)
    sent_after: list[int] = []
    tab.page.on("request", lambda r: sent_after.extend(_part_number(r)))
    tab.page.reload()  # the held parts die with the old page: none reached S3
    tab.page.get_by_label("API key").wait_for()
    tab.page.unroute_all(behavior="ignoreErrors")
    assert tab.page.get_by_label("API key").input_value() == site.key  # sessionStorage
    tab.page.locator(".uppy-StatusBar-actionBtn--upload").click()
    _state_of(tab, "resume.bin", "SUCCEEDED", timeout_s=120)
    assert held, "no part was cut off by the reload"
    assert sorted(sent_after) == [3, 4, 5]
    assert _job_of(site, "resume.bin")["sha256"] == hashlib.sha256(data).hexdigest()
    assert tab.console.errors == []


def test_a_page_on_an_origin_not_allowed_cannot_upload(
    site: Site, tab: Tab, tmp_path: Path
) -> None:
    jobs_before = {j["job_id"] for j in site.jobs()}
    refused: list[str] = []
    tab.page.on("requestfailed", lambda r: refused.append(r.url))
    path = write_file(tmp_path, "foreign.jpg", _jpeg(20 * 1024))
    _open(tab.page, site.foreign, site.key)
    _add_and_upload(tab.page, path)
    tab.page.locator("#messages p").first.wait_for()
    assert any(url.startswith(f"{site.api.url}/v1/s3/") for url in refused)
    assert {j["job_id"] for j in site.jobs()} == jobs_before  # not even a job was made
    assert tab.page.locator("#jobs li").count() == 0


def test_a_wrong_api_key_shows_a_readable_error_on_the_page(
    site: Site, tab: Tab, tmp_path: Path
) -> None:
    path = write_file(tmp_path, "wrong-key.jpg", _jpeg(20 * 1024))
    _open(tab.page, site.page_url, "not-a-key")
    _add_and_upload(tab.page, path)
    message = tab.page.locator("#messages p").first
    message.wait_for()
    assert (
        message.inner_text() == "wrong-key.jpg: the API refused this key (401): check it and retry"
    )
    assert not [e for e in tab.console.errors if e.startswith("uncaught")]
