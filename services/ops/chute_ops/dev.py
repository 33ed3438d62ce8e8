"""`chute dev`: moto, bootstrap, the API, a worker and the reconciler as one foreground
process tree."""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from chute_api.api_keys import KeyFile, new_key
from chute_core.errors import ChuteError
from chute_core.settings import AwsSettings, PipelineSettings, load
from chute_ops.bootstrap import bootstrap
from chute_ops.child_processes import stop_process, wait_healthy
from chute_ops.restarts import Restartable
from chute_ops.settings import DevSettings
from chute_ops.subscribers import SubscriberSettings

__all__ = ["run_dev"]

DEV_TENANT = "dev"
DEV_KEY_PATH = Path(".chute/dev-api-key")
DEV_KEYS_PATH = Path(".chute/dev-keys.yaml")

STOP_TIMEOUT_SECONDS = 10.0


class _Stop(Exception):
    """Raised from the signal handler so the `finally` that stops the children runs."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@contextmanager
def _children() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in reversed(procs):  # all at once, so they drain in parallel
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for proc in reversed(procs):
            stop_process(proc, timeout=max(0.1, deadline - time.monotonic()))


def _dev_key(dev: DevSettings) -> tuple[str, Path]:
    """The development key of tenant `dev` (CHUTE_DEV_API_KEY, else the one of the last
    run, else a new one), added to the keys file (CHUTE_API_KEYS_FILE, else
    .chute/dev-keys.yaml) and written to .chute/dev-api-key, both git-ignored."""
    previous = DEV_KEY_PATH.read_text().strip() if DEV_KEY_PATH.exists() else ""
    if dev.dev_api_key:
        key = dev.dev_api_key.get_secret_value()
    else:
        key = previous if previous.startswith("chute_") else new_key()
    keys_file = dev.api_keys_file or DEV_KEYS_PATH
    KeyFile(keys_file).add(DEV_TENANT, key)
    DEV_KEY_PATH.parent.mkdir(parents=True, exist_ok=True)
    DEV_KEY_PATH.write_text(key + "\n")
    DEV_KEY_PATH.chmod(0o600)
    return key, keys_file


def run_dev(dev: DevSettings, aws: AwsSettings, pipeline: PipelineSettings) -> None:
    endpoint = f"http://127.0.0.1:{dev.moto_port}"
    env = dict(os.environ)
    env["CHUTE_AWS_ENDPOINT_URL"] = endpoint
    env["CHUTE_API_PORT"] = str(dev.api_port)
    env["CHUTE_WORKER_HEALTH_PORT"] = str(dev.worker_health_port)
    # moto accepts any credentials; these are only for the local stack this command owns.
    env.setdefault("AWS_ACCESS_KEY_ID", "chute-dev")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "chute-dev")
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    key, keys_file = _dev_key(dev)
    env["CHUTE_AUTH"] = "keys"
    # A local stack serves one developer and `chute loadtest`: no budgets unless asked.
    env.setdefault("CHUTE_RATE_UPLOADS_PER_SECOND", "0")
    env.setdefault("CHUTE_RATE_READS_PER_SECOND", "0")
    env.setdefault("CHUTE_CURSOR_SECRET", secrets.token_urlsafe(32))  # one API, one secret
    env["CHUTE_API_KEYS_FILE"] = str(keys_file)
    # The upload page at /upload talks to the API and the bucket from the API's origin.
    page_origins = [f"http://{host}:{dev.api_port}" for host in ("127.0.0.1", "localhost")]
    origins = sorted({*pipeline.cors_origins, *page_origins})
    pipeline = pipeline.model_copy(update={"cors_origins": origins})
    env["CHUTE_CORS_ORIGINS"] = ",".join(origins)
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    chute = [sys.executable, "-m", "chute_ops"]
    try:
        with _children() as procs:
            moto = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "chute_ops.local_aws",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(dev.moto_port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(moto)
            wait_healthy("moto", f"{endpoint}/moto-api/", moto, dev.dev_ready_timeout_seconds)
            local_aws = aws.model_copy(update={"aws_endpoint_url": endpoint})
            changes = bootstrap(local_aws, pipeline, load(SubscriberSettings).subscribers)
            _say(f"bootstrap: {len(changes)} changes")
            services = [Restartable("api", [*chute, "api"], env, procs)]
            # One worker per pool (CHUTE_POOLS), each with its health port: the first
            # CHUTE_WORKER_HEALTH_PORT, the next ones above it.
            pools = pipeline.pool_set().names()
            for n, pool in enumerate(pools):
                port = {"CHUTE_WORKER_HEALTH_PORT": str(dev.worker_health_port + n)}
                argv = [*chute, "worker", "--pool", pool]
                name = "worker" if len(pools) == 1 else f"worker ({pool})"
                services.append(Restartable(name, argv, {**env, **port}, procs))
            api, *workers = (service.start() for service in services)
            every = f"{dev.dev_reconcile_seconds:g}"
            reconcile = [*chute, "reconcile", "--every", every]
            services.append(Restartable("reconciler", reconcile, env, procs))
            services[-1].start()
            api_url = f"http://127.0.0.1:{dev.api_port}"
            health_url = f"http://127.0.0.1:{dev.worker_health_port}"
            wait_healthy("api", f"{api_url}/readyz", api, dev.dev_ready_timeout_seconds)
            for n, worker in enumerate(workers):
                worker_url = f"http://127.0.0.1:{dev.worker_health_port + n}/readyz"
                wait_healthy(
                    services[n + 1].name, worker_url, worker, dev.dev_ready_timeout_seconds
                )
            curl = (
                f"curl -sS -X POST {shlex.quote(api_url + '/v1/uploads?filename=hello.txt')}"
                f" -H {shlex.quote('Authorization: Bearer ' + key)}"
                " -H 'Content-Type: text/plain' --data-binary 'hello, chute'"
            )
            _say(
                "chute is running:\n"
                f"  AWS (moto) {endpoint}\n"
                f"  API        {api_url}   (docs: {api_url}/docs)\n"
                f"  upload     {api_url}/upload   (a browser page; paste the key below)\n"
                f"  worker     {health_url}/readyz   (pools: {', '.join(pools)})\n"
                f"  reconciler every {every} s (overdue jobs repaired)\n"
                f"  API key    {key}   (tenant {DEV_TENANT}; also in {DEV_KEY_PATH}; "
                f"more tenants: chute keys create --tenant NAME with "
                f"CHUTE_API_KEYS_FILE={keys_file})\n"
                f"Try:\n  {curl}\n"
                "Press Ctrl-C to stop."
            )
            # Like a cluster: a crashed API or worker is restarted with backoff while the
            # rest keeps serving; only the local AWS dying ends the stack (its state is gone).
            while True:
                if moto.poll() is not None:
                    raise ChuteError(
                        f"the local AWS (moto) exited with code {moto.returncode}; its state "
                        "is gone, so the stack stops: run it again"
                    )
                for service in services:
                    service.tend(_say)
                time.sleep(0.5)
    except _Stop:
        _say("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
