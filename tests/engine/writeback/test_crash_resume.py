"""Kill a real ``zoho-etl write`` process (SIGKILL at the ``write-job-created`` failpoint).

- The re-run reads the same rows in another order (``ORDER BY random()``) and must resume
  the saved write: one bulk write job, and the simulator holds exactly the input rows.
- Killed with its own temporary Prefect server (no ``PREFECT_API_URL``), the CLI must not
  leave that server behind, nor anything holding its stdout/stderr open.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from simulator.testing import SimServer
from tests.engine.writeback.clienv import cli_env

ORG = "us-enterprise"
ROWS = 40
MAPPING = """\
module: Leads
operation: insert
key: no
fields:
  - {source: last_name, api_name: Last_Name}
  - {source: company, api_name: Company}
"""
SOURCE = "sql:SELECT * FROM outbox ORDER BY random()"
SERVER_APP = "prefect.server.api.server:create_app"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    with duckdb.connect(str(data / "warehouse.duckdb")) as db:
        db.execute(
            "CREATE TABLE outbox AS SELECT 'n' || range AS no, 'Crash ' || range AS last_name,"
            f" 'Co' AS company FROM range({ROWS})"
        )
    (tmp_path / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    return data


def write_command(sim: SimServer, data_dir: Path) -> list[str]:
    mapping = str(data_dir.parent / "leads.yaml")
    return [sys.executable, "-m", "cli", "write", SOURCE, "--mapping", mapping,
            "--simulator", sim.base_url, "--data-dir", str(data_dir)]  # fmt: skip


def write_jobs(sim: SimServer) -> int:
    return int(sim.state.stats.snapshot()["jobs_created"].get(f"{ORG}/crm/Leads#write", 0))


def written_rows(sim: SimServer) -> int:
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    return sum(len(store.find("Last_Name", f"Crash {i}")) for i in range(ROWS))


def test_a_killed_write_resumes_from_rows_in_another_order(
    prefect_api: str, sim: SimServer, data_dir: Path
) -> None:
    command = write_command(sim, data_dir)
    killed = subprocess.run(
        command, env=cli_env("write-job-created", PREFECT_API_URL=prefect_api),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert write_jobs(sim) == 1
    again = subprocess.run(
        command, env=cli_env(None, PREFECT_API_URL=prefect_api),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert write_jobs(sim) == 1
    assert written_rows(sim) == ROWS


def own_servers(prefect_home: Path) -> list[psutil.Process]:
    """Live Prefect server processes started with this PREFECT_HOME."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if SERVER_APP not in cmdline or process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get("PREFECT_HOME") == str(prefect_home):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_a_killed_cli_leaves_no_prefect_server_and_no_open_output(
    sim: SimServer, data_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "prefect-home"
    env = cli_env("write-job-created", PREFECT_HOME=str(home))
    env.pop("PREFECT_API_URL", None)
    with subprocess.Popen(
        write_command(sim, data_dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as cli:
        # EOF on both pipes: nothing (no server) holds the dead CLI's output open
        _, err = cli.communicate(timeout=300)
    assert cli.returncode == -9, err.decode(errors="replace")[-2000:]
    assert write_jobs(sim) == 1  # killed mid-run, after its flow ran on the server
    for _ in range(600):  # the kernel's SIGKILL to the server is immediate; allow a minute
        if not own_servers(home):
            break
        time.sleep(0.1)
    assert own_servers(home) == []
