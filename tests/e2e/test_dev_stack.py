"""`make run` starts the whole local stack; its curl line works; Ctrl-C stops it all."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.files import image
from tests.support.polling import wait_until
from tests.support.processes import REPO, free_port


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        children = Path(f"/proc/{current}/task/{current}/children")
        try:
            kids = [int(p) for p in children.read_text().split()]
        except FileNotFoundError:
            continue
        found.update(kids)
        todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_make_run_serves_the_printed_curl_line_and_ctrl_c_leaves_no_process(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "CHUTE_MOTO_PORT": str(free_port()),
        "CHUTE_API_PORT": str(free_port()),
        "CHUTE_WORKER_HEALTH_PORT": str(free_port()),
    }
    log_path = tmp_path / "make-run.log"
    make = _start_ready(["make", "--no-print-directory", "run"], env, log_path)
    try:
        output = log_path.read_text()
        assert make.poll() is None, output
        (curl,) = re.findall(r"^\s+(curl .+)$", output, flags=re.M)
        tree = descendants(make.pid)
        assert len(tree) >= 5, tree  # shell/chute dev, moto, api, worker, reconciler
        assert _service_pid(make.pid, "reconcile") is not None
        assert "reconciler every 30 s" in output
        result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True)
        accepted = json.loads(result.stdout)
        assert accepted["state"] in ("QUEUED", "PROCESSING", "SUCCEEDED")
        assert accepted["status_url"].startswith(f"http://127.0.0.1:{env['CHUTE_API_PORT']}/")
        (key,) = re.findall(r"API key\s+(chute_\S+)", output)
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(accepted["status_url"]).status_code == 401  # keys are required
        assert httpx.get(accepted["status_url"], headers=headers).json()["tenant"] == "dev"
        wait_until(
            lambda: (
                httpx.get(accepted["status_url"], headers=headers).json()["state"] == "SUCCEEDED"
            ),
            timeout=30,
            what="the curl upload processed",
        )
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C does
        make.wait(timeout=30)
        wait_until(
            lambda: not any(alive(pid) for pid in tree), timeout=15, what="all children gone"
        )
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()


def _service_pid(root: int, command: str) -> int | None:
    """The live `python -m chute_ops <command>` process under `root`."""
    for pid in descendants(root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"chute_ops" in argv and command.encode() in argv and alive(pid):
            return pid
    return None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_a_killed_worker_or_api_is_restarted_while_the_rest_keeps_serving(
    tmp_path: Path,
) -> None:
    ports = {
        n: str(free_port())
        for n in ("CHUTE_MOTO_PORT", "CHUTE_API_PORT", "CHUTE_WORKER_HEALTH_PORT")
    }
    env = {**os.environ, **ports}
    api_url = f"http://127.0.0.1:{ports['CHUTE_API_PORT']}"
    worker_url = f"http://127.0.0.1:{ports['CHUTE_WORKER_HEALTH_PORT']}"
    log_path = tmp_path / "make-run.log"
    make = _start_ready(["make", "--no-print-directory", "run"], env, log_path)
    try:
        (key,) = re.findall(r"API key\s+(chute_\S+)", log_path.read_text())
        headers = {"Authorization": f"Bearer {key}"}
        seen = set(descendants(make.pid))
        # kill -9 the worker, as the OOM killer would: the API keeps answering.
        worker = _service_pid(make.pid, "worker")
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: not alive(worker), timeout=10, what="the worker gone")
        upload = httpx.post(
            f"{api_url}/v1/uploads", content=b"while the worker is down", headers=headers
        )
        assert upload.status_code == 202
        wait_until(lambda: "worker exited with code -9" in log_path.read_text(), timeout=10)
        wait_until(lambda: _answers(f"{worker_url}/readyz"), timeout=60, what="worker restarted")
        status = upload.json()["status_url"]
        wait_until(
            lambda: httpx.get(status, headers=headers).json()["state"] == "SUCCEEDED",
            timeout=60,
            what="the waiting job processed by the restarted worker",
        )
        # kill -9 the API: the worker keeps working, the API is back within seconds.
        api = _service_pid(make.pid, "api")
        assert api is not None
        os.kill(api, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: not alive(api), timeout=10, what="the API gone")
        assert _answers(f"{worker_url}/healthz")
        wait_until(lambda: _answers(f"{api_url}/readyz"), timeout=60, what="API restarted")
        print(f"API back {time.monotonic() - killed:.1f} s after kill -9")
        assert make.poll() is None
        seen |= descendants(make.pid)
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        make.wait(timeout=30)
        wait_until(lambda: not any(alive(pid) for pid in seen), timeout=15, what="all gone")
        for port in ports.values():
            assert not _answers(f"http://127.0.0.1:{port}/healthz")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()


@pytest.mark.slow
def test_chute_dev_runs_a_worker_per_configured_pool(tmp_path: Path) -> None:
    ports = {n: str(free_port()) for n in ("CHUTE_MOTO_PORT", "CHUTE_API_PORT")}
    first_worker = free_port()
    pools = {"CHUTE_POOLS": json.dumps({"images": {"queue": "chute-dev-images"}})}
    routes = {"CHUTE_POOL_ROUTES": json.dumps([{"pool": "images", "content_types": ["image/*"]}])}
    env = {
        **os.environ,
        **ports,
        **pools,
        **routes,
        "CHUTE_WORKER_HEALTH_PORT": str(first_worker),
        "CHUTE_API_KEYS_FILE": str(tmp_path / "keys.yaml"),
    }
    api_url = f"http://127.0.0.1:{ports['CHUTE_API_PORT']}"
    log_path = tmp_path / "dev.log"
    dev = _start_ready([sys.executable, "-m", "chute_ops", "dev"], env, log_path)
    try:
        assert "pools: default, images" in log_path.read_text()
        for port in (first_worker, first_worker + 1):
            assert _answers(f"http://127.0.0.1:{port}/readyz")
        (key,) = re.findall(r"API key\s+(chute_\S+)", log_path.read_text())
        headers = {"Authorization": f"Bearer {key}"}
        png = image(4, 4)
        sent = {
            "images": httpx.post(f"{api_url}/v1/uploads", content=png, headers=headers),
            "default": httpx.post(f"{api_url}/v1/uploads", content=b"text", headers=headers),
        }
        for pool, answer in sent.items():
            assert answer.status_code == 202, answer.text
            status = answer.json()["status_url"]
            done = wait_until(
                lambda status=status: _terminal(httpx.get(status, headers=headers).json()),
                timeout=60,
                what=f"the {pool} job done",
            )
            assert (done["pool"], done["state"]) == (pool, "SUCCEEDED")
    finally:
        os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()


def _start_ready(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a dev stack in its own process group (as a terminal would give it) and wait
    until it says it is ready."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(
            lambda: "Press Ctrl-C to stop." in log_path.read_text() or proc.poll() is not None,
            timeout=120,
            what="chute dev ready",
        )
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc


def _terminal(job: dict[str, object]) -> dict[str, object] | None:
    return job if job["state"] in ("SUCCEEDED", "FAILED") else None
