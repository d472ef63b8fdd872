"""Run the Zoho simulator in a separate process, for benchmarks that measure it from outside.

    with sim_process(records={"Leads": 1_000_000}, per_page=200_000) as sim:
        sim.base_url, sim.pid          # http://127.0.0.1:PORT, the server's process id
        sim.credentials("us-enterprise")  # client id/secret/refresh token (fake) + dc

Other config (any ``SimConfig`` field the ``PATCH /_sim/config`` route accepts) goes in
``overrides``. The process is stopped (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True)
class SimProcess:
    base_url: str
    pid: int

    def credentials(self, org_key: str = "us-enterprise") -> dict[str, str]:
        orgs = requests.get(f"{self.base_url}/_sim/orgs", timeout=10).json()["orgs"]
        org = next(o for o in orgs if o["key"] == org_key)
        return {k: str(org[k]) for k in ("dc", "client_id", "client_secret", "refresh_token")}

    def access_token(self, org_key: str = "us-enterprise") -> tuple[str, str]:
        """(access token, api_domain) for the org, by the refresh grant."""
        creds = self.credentials(org_key)
        response = requests.post(
            f"{self.base_url}/{creds['dc']}/accounts/oauth/v2/token",
            data={"grant_type": "refresh_token", **{k: creds[k] for k in creds if k != "dc"}},
            timeout=10,
        )
        body = response.json()
        return str(body["access_token"]), str(body["api_domain"])

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = requests.get(f"{self.base_url}/_sim/stats", timeout=10).json()
        return stats


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def sim_process(
    records: Mapping[str, int] | None = None,
    per_page: int | None = None,
    job_seconds: tuple[float, float] | None = None,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    port: int | None = None,
    nice: int = 0,
) -> Iterator[SimProcess]:
    """Start ``python -m simulator`` on a free port and yield its URL and pid.

    ``nice`` > 0 starts the whole process (every thread it will have) at that lower CPU
    priority: on a machine whose cores the measured client needs, the simulator's own work
    (writing result zips while a job "runs") then takes only the CPU the client leaves idle,
    as Zoho's work happens on Zoho's servers.
    """
    port = port or _free_port()
    command = [sys.executable, "-m", "simulator", "--port", str(port)]
    if nice:
        command = [_nice_command(), "-n", str(nice), *command]
    for module, count in (records or {}).items():
        command += ["--records", f"{module}={count}"]
    if per_page is not None:
        command += ["--per-page", str(per_page)]
    if job_seconds is not None:
        command += ["--job-seconds", str(job_seconds[0]), str(job_seconds[1])]
    if seed is not None:
        command += ["--seed", str(seed)]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process)
        if overrides:
            response = requests.patch(f"{base_url}/_sim/config", json=dict(overrides), timeout=10)
            response.raise_for_status()
        yield SimProcess(base_url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _nice_command() -> str:
    found = shutil.which("nice")
    if found is None:
        raise RuntimeError("no 'nice' command on PATH: it lowers the simulator's priority")
    return found


def _wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with code {process.returncode}")
        try:
            requests.get(f"{base_url}/_sim/clock", timeout=5)
        except (requests.ConnectionError, requests.Timeout):
            # not listening yet, or (at nice 19 on a busy machine) not scheduled in time
            time.sleep(0.1)
            continue
        return
    raise RuntimeError(f"the simulator did not answer within {STARTUP_TIMEOUT} s")
