"""`make run` starts the whole local stack; its curl line works; Ctrl-C stops it all."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

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
    with log_path.open("wb") as log:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal would give it
        )
    try:
        wait_until(
            lambda: "Press Ctrl-C to stop." in log_path.read_text() or make.poll() is not None,
            timeout=120,
            what="chute dev ready",
        )
        output = log_path.read_text()
        assert make.poll() is None, output
        (curl,) = re.findall(r"^\s+(curl .+)$", output, flags=re.M)
        tree = descendants(make.pid)
        assert len(tree) >= 4, tree  # shell/chute dev, moto, api, worker
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
