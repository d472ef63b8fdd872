"""Ctrl-C during page 2 of 3: ``zoho-etl`` exits 130, the Prefect flow run ends Cancelled, and
the same command resumes the extract.

The re-run must not create a new bulk job for page 1 (already loaded) nor spend credits on it:
the simulator's job, status and download counters and the ledger say which calls were made.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.sorting import FlowRunSort

from cli.exit_codes import ExitCode
from simulator.testing import SimServer
from tests.flows.cli_process import ledger_jobs, run_cli, start_cli, warehouse_ids

ORG = "us-enterprise"


def jobs_created(sim: SimServer) -> int:
    return int(sim.state.stats.snapshot()["jobs_created"].get(f"{ORG}/crm/Leads", 0))


def export_run_states() -> list[str]:
    """The state type of every ``zoho-export`` flow run in the Prefect API, newest first."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["zoho-export"])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        )
    return [run.state.type.value if run.state else "" for run in runs]


def calls_for_job(sim: SimServer, job_id: str) -> int:
    """Status and download calls the simulator answered for one bulk job."""
    stats = sim.state.stats.snapshot()
    return int(stats["polls"].get(job_id, 0)) + int(stats["downloads"].get(job_id, 0))


def start_export(
    sim: SimServer,
    api: str,
    data_dir: Path,
    *flags: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """``zoho-etl export Leads --full FLAGS`` started in a child process."""
    return start_cli(sim, api, data_dir, "export", "Leads", "--full", *flags, env=env)


def interrupt_during_page_2(sim: SimServer, process: subprocess.Popen[str], jobs: int) -> str:
    """Ctrl-C ``process`` once its second job exists (``jobs`` were made before it started:
    page 1 is loaded, page 2's job runs); it must exit 130. Returns its stderr."""
    deadline = time.monotonic() + 240
    while jobs_created(sim) < jobs + 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "page 2 never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED, stderr[-3000:]
    return stderr


@pytest.mark.slow
def test_sigint_during_page_2_exits_130_cancels_the_run_and_the_same_command_resumes(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    sim.state.configure(per_page=700, downloads_per_minute=1000, job_seconds=(2.5, 2.5))
    runs_before = len(export_run_states())
    stderr = interrupt_during_page_2(sim, start_export(sim, prefect_api, tmp_path), 0)
    assert "export Leads --full" in stderr.strip().splitlines()[-1]  # the command to resume
    states = export_run_states()
    assert len(states) == runs_before + 1
    assert states[0] == "CANCELLED"  # not Failed or Crashed
    jobs = ledger_jobs(tmp_path, "Leads")
    assert [page for page, state, _, _ in jobs if state == "loaded"] == [1]
    page_1_job = next(job_id for page, _, job_id, _ in jobs if page == 1)
    assert page_1_job is not None
    before = jobs_created(sim)
    page_1_calls = calls_for_job(sim, page_1_job)

    sim.state.configure(job_seconds=(0.02, 0.05))
    again = start_export(sim, prefect_api, tmp_path)
    _, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr[-3000:]
    assert "crm Leads: page 1/? loaded" in stderr  # page 1 counted again, not read again
    assert export_run_states()[0] == "COMPLETED"
    jobs = ledger_jobs(tmp_path, "Leads")
    assert [page for page, state, _, _ in jobs if state == "loaded"] == [1, 2, 3]
    assert {job_id for page, _, job_id, _ in jobs if page == 1} == {page_1_job}  # no new job
    assert calls_for_job(sim, page_1_job) == page_1_calls  # nor a status or download call
    assert jobs_created(sim) - before <= 2  # only pages 2 (again, if it expired) and 3
    ids = warehouse_ids(tmp_path, "crm_Leads")
    assert len(ids) == len(set(ids)) == 2000


def extract_kinds(data_dir: Path) -> list[tuple[str, str]]:
    """``(kind, state)`` of every Leads extract in the ledger, oldest first."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT kind, state FROM zoho_etl.extracts WHERE module = 'Leads' ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()
    return [(str(kind), str(state)) for kind, state in rows]


@pytest.mark.slow
def test_an_interrupted_full_export_is_resumed_by_a_rerun_with_other_flags(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    # 12,000 records: over the REST break-even, so the second full export reads by bulk too
    records = {**sim.state.config.records, "Leads": 12_000}
    sim.state.configure(records=records, per_page=4_000, downloads_per_minute=1000)
    serial = {"ZOHO_ETL_ACTIVE_BULK_JOBS": "1"}  # pages one after another, not windows
    done = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "--full", env=serial)
    assert done.returncode == 0, done.stderr[-3000:]  # the watermark makes the rerun incremental

    sim.state.configure(job_seconds=(2.5, 2.5))
    base = jobs_created(sim)
    first = start_export(sim, prefect_api, tmp_path, "--concurrency", "1", env=serial)
    interrupt_during_page_2(sim, first, base)
    assert extract_kinds(tmp_path) == [("full", "loaded"), ("full", "running")]
    jobs = ledger_jobs(tmp_path, "Leads")[3:]  # this run's
    loaded = [job_id for page, state, job_id, _ in jobs if state == "loaded"]
    assert len(loaded) == 1
    calls = calls_for_job(sim, str(loaded[0]))

    sim.state.configure(job_seconds=(0.02, 0.05))
    again = run_cli(
        sim, prefect_api, tmp_path, "export", "Leads", "--concurrency", "3", env=serial
    )  # neither --full nor --concurrency 1
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming the interrupted full export" in again.stderr
    # 12,000 records last time, 4,000 a page: 3 pages expected
    assert "crm Leads: started (bulk, pages 0/3)" in again.stderr
    assert "crm Leads: page 3/3 loaded" in again.stderr
    assert extract_kinds(tmp_path) == [("full", "loaded"), ("full", "loaded")]
    jobs = ledger_jobs(tmp_path, "Leads")[3:]
    assert [page for page, state, _, _ in jobs if state == "loaded"] == [1, 2, 3]
    assert next(job_id for page, _, job_id, _ in jobs if page == 1) == loaded[0]
    assert calls_for_job(sim, str(loaded[0])) == calls  # page 1: no job, status or download
    ids = warehouse_ids(tmp_path, "crm_Leads")
    assert len(ids) == len(set(ids)) == 12_000
