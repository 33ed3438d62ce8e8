"""tus clients no one here wrote upload through /v1/tus: tuspy (its sync and async
uploaders) and tus-js-client under Node (tests/clients/tus-js, pinned by its
package-lock.json, installed by `make test` with npm ci). Files around S3's 5 MiB part
minimum and a 64 MiB one, in chunks of 1, 5 and 7 MiB; each job ends SUCCEEDED with the
file's SHA-256. An empty file is refused at creation with a problem the client reports;
an upload left unfinished expires, and the reconciler removes its parts and tail."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.conftest import ServerFactory
from tests.support.jobs_api import TERMINAL, wait_job
from tests.support.keyed import keyed_api
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.stack import Stack

MiB = 1024 * 1024
SIZES = [1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 64 * MiB]
CHUNKS = [1 * MiB, 5 * MiB, 7 * MiB]
JS_CLIENT = Path(__file__).parents[1] / "clients" / "tus-js"


@dataclass
class Site:
    stack: Stack
    api: Server
    key: str

    @property
    def endpoint(self) -> str:
        return f"{self.api.url}/v1/tus/"

    def client(self) -> TusClient:
        return TusClient(self.endpoint, headers={"Authorization": f"Bearer {self.key}"})


@pytest.fixture(scope="module")
def site(
    module_stack: Stack, module_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Site:
    api = keyed_api(
        module_servers, module_stack, tmp_path_factory.mktemp("tus-clients"), ["tenant-a"]
    )
    module_servers("worker", module_stack, CHUTE_WORKER_CONCURRENCY="4")
    return Site(module_stack, api.server, api.keys["tenant-a"])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("tus-files")
    made = {}
    for size in SIZES:
        path = folder / f"file-{size}.bin"
        path.write_bytes(os.urandom(size))
        made[size] = path
    return made


def _job_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def _all_succeed_with_their_digests(site: Site, uploaded: dict[str, Path]) -> None:
    table = site.stack.client("dynamodb")

    def states() -> dict[str, dict[str, str]] | None:
        jobs = {}
        for job_id in uploaded:
            item = table.get_item(
                TableName=site.stack.pipeline.table, Key={"job_id": {"S": job_id}}
            )["Item"]
            jobs[job_id] = {k: v.get("S", "") for k, v in item.items()}
        done = all(job["state"] in TERMINAL for job in jobs.values())
        return jobs if done else None

    jobs = wait_until(states, timeout=180, interval=0.5, what="every tus job terminal")
    for job_id, path in uploaded.items():
        assert jobs[job_id]["state"] == "SUCCEEDED", (path.name, jobs[job_id])
        assert jobs[job_id]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), path


def _matrix(files: dict[int, Path], upload: Callable[[Path, int], str]) -> dict[str, Path]:
    return {upload(files[size], chunk): files[size] for size in SIZES for chunk in CHUNKS}


def test_tuspy_sync_uploads_succeed_with_their_sha256(site: Site, files: dict[int, Path]) -> None:
    def upload(path: Path, chunk: int) -> str:
        with path.open("rb") as stream:  # tuspy leaves a file it opened itself open
            uploader = site.client().uploader(
                file_stream=stream, chunk_size=chunk, metadata={"filename": path.name}
            )
            uploader.upload()
        return _job_id(uploader.url)

    _all_succeed_with_their_digests(site, _matrix(files, upload))


# tuspy's async uploader hands aiohttp each chunk as bytes, which aiohttp warns about.
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
def test_tuspy_async_uploads_succeed_with_their_sha256(site: Site, files: dict[int, Path]) -> None:
    async def upload(path: Path, chunk: int) -> str:
        with path.open("rb") as stream:
            uploader = site.client().async_uploader(
                file_stream=stream, chunk_size=chunk, metadata={"filename": path.name}
            )
            await uploader.upload()
        return _job_id(uploader.url)

    async def all_of_them() -> dict[str, Path]:
        return {await upload(files[size], chunk): files[size] for size in SIZES for chunk in CHUNKS}

    _all_succeed_with_their_digests(site, asyncio.run(all_of_them()))


def _node(site: Site, path: Path, chunk: int) -> dict[str, object]:
    node = shutil.which("node")
    assert node, "Node.js is needed: make test installs Debian's nodejs package as root"
    done = subprocess.run(
        [node, "upload.mjs", site.endpoint, str(path), str(chunk), site.key, path.name],
        cwd=JS_CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-2000:]
    answer: dict[str, object] = json.loads(lines[-1])
    return answer


def test_tus_js_client_uploads_succeed_with_their_sha256(
    site: Site, files: dict[int, Path]
) -> None:
    def upload(path: Path, chunk: int) -> str:
        answer = _node(site, path, chunk)
        assert "url" in answer, answer
        return _job_id(str(answer["url"]))

    _all_succeed_with_their_digests(site, _matrix(files, upload))


def test_tuspy_reports_an_empty_file_refused_at_creation(site: Site) -> None:
    uploader = site.client().uploader(file_stream=io.BytesIO(b""), chunk_size=MiB)
    with pytest.raises(TusCommunicationError) as refused:
        uploader.upload()
    assert refused.value.status_code == 400
    assert b"empty-upload" in refused.value.response_content


def test_tus_js_client_reports_an_empty_file_refused_at_creation(
    site: Site, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    answer = _node(site, empty, MiB)
    assert answer["status"] == 400, answer
    assert "empty-upload" in str(answer["body"])


def test_an_expired_upload_is_failed_and_leaves_no_parts_and_no_tail(
    site: Site, module_servers: ServerFactory
) -> None:
    short = module_servers(
        "api",
        site.stack,
        CHUTE_AUTH="none",
        CHUTE_TUS_EXPIRE_SECONDS="2",
        CHUTE_UPLOAD_PART_BYTES=str(5 * MiB),
        CHUTE_OVERDUE_GRACE_SECONDS="0",  # due the moment the upload expires
    )
    module_servers("reconciler", site.stack)
    tus = f"{short.url}/v1/tus/"
    version = {"Tus-Resumable": "1.0.0"}
    created = httpx.post(tus, headers={**version, "Upload-Length": str(20 * MiB)})
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    patched = httpx.patch(  # one part to S3 and a tail: both must go
        location,
        content=os.urandom(7 * MiB),
        headers={
            **version,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
        },
        timeout=30,
    )
    assert patched.status_code == 204, patched.text
    job_id = _job_id(location)
    job = wait_job(short.url, job_id, timeout=30)
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "upload_expired"
    assert [u for u in site.stack.multipart_uploads() if u["Key"] == job["object"]["key"]] == []
    assert site.stack.keys(f"{site.stack.pipeline.partial_prefix}default/{job_id}") == []
    assert httpx.head(location, headers=version).status_code == 410
