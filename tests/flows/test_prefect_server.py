"""A real ``prefect server start`` from this environment: scheduler, ``prefect deploy``, logs.

One server per module (``prefect_server``), on 127.0.0.1 at a free port with its own
``PREFECT_HOME``; it is killed (its whole process group) whatever the tests do. These are the
only tests of the scheduler and of the CLI against a server; everything else runs on the
session's test harness or at library level.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.settings import ZohoConnection
from engine.simulated import simulated_connection
from flows.deployments import read_specs
from simulator.testing import SimServer

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Generous: a loaded 2-core machine starts a server in 10-40 s and a flow run in 5-20 s.
SERVER_START_S = 180.0
SCHEDULED_RUN_S = 240.0

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class PrefectServer:
    api_url: str
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a CLI process talking to this server (no library-log set-up)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.home),
            DO_NOT_TRACK="1",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        env.update(extra)
        return env

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api_url}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers; always reaps the leader."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):  # children that outlived their leader
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


def wait_for(what: str, check: Callable[[], Any], deadline_s: float, log: Path) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the process log."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
    pytest.fail(f"{what} did not happen within {deadline_s:.0f} s; log tail:\n{tail}")


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    server = PrefectServer(f"http://127.0.0.1:{port}/api", home)
    log = home / "server.log"
    # the scheduler looks for due schedules every 5 s instead of every 60 s
    env = server.env(PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5")
    env.pop("PREFECT_API_URL")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            "the Prefect server's health check",
            lambda: httpx.get(f"{server.api_url}/health", timeout=5).status_code == 200,
            SERVER_START_S,
            log,
        )
        yield server
    finally:
        stop_group(process)


def run_cli(server: PrefectServer, *args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", *args],
        env=server.env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def save_block(server: PrefectServer, name: str, connection: ZohoConnection) -> str:
    """A ZohoCredentials block on ``server``; its id."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.blocks import ZohoCredentials

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        return str(ZohoCredentials.from_connection(connection).save(name, overwrite=True))


def test_prefect_deploy_all_registers_every_deployment_of_prefect_yaml(
    prefect_server: PrefectServer, sim_server: SimServer
) -> None:
    connection = simulated_connection(sim_server.base_url)
    block_ids = {
        name: save_block(prefect_server, name, connection) for name in ("zoho-crm", "zoho-recruit")
    }
    run_cli(prefect_server, "work-pool", "create", "zoho-etl", "--type", "process")
    run_cli(prefect_server, "deploy", "--all")
    specs = {s.name: s for s in read_specs(REPO / "prefect.yaml")}
    in_pool = {"work_pools": {"name": {"any_": ["zoho-etl"]}}}
    registered = {d["name"]: d for d in prefect_server.post("/deployments/filter", in_pool)}
    assert set(registered) == set(specs)
    for name, spec in specs.items():
        deployment = registered[name]
        assert deployment["work_pool_name"] == "zoho-etl"
        assert deployment["paused"] is spec.paused
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        crons = [s["schedule"]["cron"] for s in deployment["schedules"]]
        assert crons == [s.schedule.cron for s in spec.schedules]  # type: ignore[union-attr]
        # the build step turned the block slug into the id reference the block picker shows
        block = "zoho-recruit" if spec.parameters.get("product") == "recruit" else "zoho-crm"
        reference = {"$ref": {"block_document_id": block_ids[block]}}
        assert deployment["parameters"]["credentials"] == reference
    # the scheduler plans runs of the active deployments (none of the paused write-back)
    active = {registered[n]["id"] for n, spec in specs.items() if not spec.paused}
    wait_for(
        "scheduled runs of every active deployment",
        lambda: active <= {r["deployment_id"] for r in _scheduled_runs(prefect_server)},
        SCHEDULED_RUN_S,
        prefect_server.home / "server.log",
    )
    paused = registered["crm-leads-write-back"]["id"]
    assert paused not in {r["deployment_id"] for r in _scheduled_runs(prefect_server)}
    # the client's filters (limit: null) are accepted: the 422 of fastapi >= 0.151 is gone
    listed = json.loads(
        run_cli(prefect_server, "flow-run", "ls", "--state-type", "SCHEDULED", "--output", "json")
    )
    assert {r["deployment_id"] for r in listed} >= active


def _scheduled_runs(server: PrefectServer) -> list[dict[str, Any]]:
    body = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
    runs: list[dict[str, Any]] = server.post("/flow_runs/filter", body)
    return runs


def test_a_scheduled_export_completes_with_library_logs_and_artifacts(
    prefect_server: PrefectServer, sim_server: SimServer, tmp_path: Path
) -> None:
    sim_server.reset()
    sim_server.state.configure(per_page=700, job_seconds=(0.05, 0.1), downloads_per_minute=1000)
    save_block(prefect_server, "simulated-org", simulated_connection(sim_server.base_url))
    deployments = tmp_path / "prefect.yaml"
    deployments.write_text(yaml.safe_dump(_scheduled_export(tmp_path)), encoding="utf-8")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [str(BIN / "zoho-etl"), "serve", "--file", str(deployments)],
            env=prefect_server.env(PREFECT_RUNNER_POLL_FREQUENCY="2"),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    expected = (
        "created Zoho CRM bulk read job",  # connectors.bulk_read: the job id
        "(50 credits so far) is COMPLETED",  # flows.tasks: state changes with credits
        "downloaded bulk read job",  # connectors.bulk_read: records and bytes
        "loaded crm Leads page of job",  # transforms.pipeline: rows / rejects / seconds
        "credits left:",  # flows.tasks: the budget's and Zoho's count
        "Leads page 3 loaded",  # flows.tasks: the last page
    )

    def library_lines(run_id: str) -> str | None:
        # logs travel in batches: the run can be Completed before its last lines arrive
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
        text = "\n".join(e["message"] for e in prefect_server.post("/logs/filter", body))
        return text if all(line in text for line in expected) else None

    try:
        run = wait_for(
            "a scheduled run of the export reaching Completed",
            lambda: _completed_scheduled_run(prefect_server),
            SCHEDULED_RUN_S,
            log,
        )
        assert run["auto_scheduled"] is True  # made by the server's scheduler
        # (the run's process sends its last log batch as it exits: serve must live until then)
        wait_for("the library's lines in the run's log", lambda: library_lines(run["id"]), 60, log)
    finally:
        stop_group(serve)

    artifacts = prefect_server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    )
    by_key = {a["key"]: a for a in artifacts}
    assert set(by_key) >= {"export-crm", "progress-crm-leads"}
    assert by_key["progress-crm-leads"]["data"] == 100.0

    task_runs = prefect_server.post(
        "/task_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}}
    )
    names = {t["name"] for t in task_runs}
    assert {"export crm Leads", "bulk-read Leads page 1", "bulk-read Leads page 2"} <= names


def _scheduled_export(tmp_path: Path) -> dict[str, Any]:
    """A prefect.yaml with one export due every 10 s, read by ``zoho-etl serve``."""
    return {
        "name": "scheduled-export-test",
        "deployments": [
            {
                "name": "leads-every-10s",
                "entrypoint": "flows/export.py:export_flow",
                "parameters": {
                    "product": "crm",
                    "modules": ["Leads"],
                    "mode": "full",
                    "credentials": {
                        "$ref": {"block_document_slug": "zoho-credentials/simulated-org"}
                    },
                },
                "schedules": [{"interval": 10}],
                "concurrency_limit": {"limit": 1, "collision_strategy": "CANCEL_NEW"},
                "work_pool": {
                    "job_variables": {
                        "env": {
                            "ZOHO_ETL_DATA_DIR": str(tmp_path / "data"),
                            "ZOHO_ETL_POLL_INTERVAL": "0.05",
                            "ZOHO_ETL_DOWNLOADS_PER_MINUTE": "1000",
                        }
                    }
                },
            }
        ],
    }


def _completed_scheduled_run(server: PrefectServer) -> dict[str, Any] | None:
    runs = server.post(
        "/flow_runs/filter",
        {"flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}}},
    )
    for run in runs:
        if run["state_type"] != "COMPLETED":
            pytest.fail(f"flow run {run['name']} ended {run['state_type']}: {run['state']}")
    return next((r for r in runs if r["auto_scheduled"]), None)
