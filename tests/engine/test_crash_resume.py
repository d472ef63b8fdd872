"""Kill the export (a real ``zoho-etl export`` process, SIGKILL) at each step and resume.

The run is killed after a bulk job was created (page 2, created ahead while page 1 was still
downloading), during the download of page 2, and inside the warehouse merge of page 3; each
time the same command is started again. The final warehouse must equal a clean run's, row by
row, with no extra bulk job created and the bulk-job credits at their minimum.
"""

from __future__ import annotations

import signal
from pathlib import Path

import duckdb
import pytest

from simulator.testing import SimServer
from tests.flows.cli_process import ledger_jobs, run_cli, warehouse_ids

ORG = "us-enterprise"
KEY = f"{ORG}/crm/Leads"


def run_export(sim: SimServer, api: str, data_dir: Path, failpoint: str | None) -> int:
    env = {"ZOHO_ETL_FAILPOINTS": failpoint} if failpoint else None
    done = run_cli(sim, api, data_dir, "export", "Leads", "--full", env=env, timeout=120)
    if failpoint is None and done.returncode != 0:
        pytest.fail(f"export failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.returncode


def warehouse_rows(data_dir: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'crm_Leads' ORDER BY ordinal_position"
            ).fetchall()
            if r[0] not in {"_zoho_job_id", "_extracted_at"}
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        return con.execute(f'SELECT {listed} FROM "crm_Leads" ORDER BY id').fetchall()
    finally:
        con.close()


def ledger_states(data_dir: Path) -> list[tuple[int, str]]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT page, state FROM zoho_etl.jobs ORDER BY page, planned_at"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_killed_export_resumes_to_the_clean_result(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    config = {"per_page": 800, "downloads_per_minute": 1000, "job_seconds": (0.02, 0.05)}
    sim.state.configure(**config)
    clean_dir = tmp_path / "clean"
    run_export(sim, prefect_api, clean_dir, None)
    clean_stats = sim.state.stats.snapshot()
    clean_jobs = clean_stats["jobs_created"][KEY]
    assert clean_jobs == 3  # 2000 Leads in pages of 800

    sim.reset()
    sim.state.configure(**config)
    crashed = tmp_path / "crashed"
    killed = -signal.SIGKILL
    # page 2's job is created as soon as page 1 completes (while page 1 downloads)
    assert run_export(sim, prefect_api, crashed, "job-created@Leads:2") == killed
    assert ledger_states(crashed) == [(1, "completed"), (2, "created")]
    assert run_export(sim, prefect_api, crashed, "download@Leads:2") == killed
    assert ledger_states(crashed) == [(1, "loaded"), (2, "completed"), (3, "created")]
    assert run_export(sim, prefect_api, crashed, "load@Leads:3") == killed
    assert ledger_states(crashed) == [(1, "loaded"), (2, "loaded"), (3, "downloaded")]
    run_export(sim, prefect_api, crashed, None)
    assert ledger_states(crashed) == [(1, "loaded"), (2, "loaded"), (3, "loaded")]

    stats = sim.state.stats.snapshot()
    assert stats["jobs_created"][KEY] == clean_jobs  # re-attached, never re-created
    assert warehouse_rows(crashed) == warehouse_rows(clean_dir)
    # Credits: the same three 50-credit jobs. Beyond status polls (their number depends on
    # timing), the three resumed processes may add only the 1-credit calls a resume cannot
    # avoid: one field-metadata call each, and one repeat of the download that was killed.
    calls, clean_calls = stats["calls"], clean_stats["calls"]
    metadata = "GET /{dc}/api/crm/v8/settings/fields"
    download = "GET /{dc}/api/crm/bulk/v8/read/{job_id}/result"
    status = "GET /{dc}/api/crm/bulk/v8/read/{job_id}"
    assert calls[metadata] - clean_calls[metadata] <= 3
    assert calls[download] - clean_calls[download] <= 1
    extra = stats["credits_used"][ORG] - clean_stats["credits_used"][ORG]
    extra_polls = calls[status] - clean_calls[status]
    assert extra <= 3 + 1 + max(extra_polls, 0)


@pytest.mark.slow
def test_a_resume_after_downtime_polls_at_once_and_keeps_downtime_out_of_job_times(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    """Killed after creating page 1's job, re-run 12 minutes later (issue 19, item 7).

    The downtime is made by moving the ledger's timestamps 12 minutes back and the
    simulator's clock 12 minutes on (Zoho finished the job long ago). Before the fix the
    re-run took page 1's 12 minutes as its job time and slept ~9.6 minutes before polling
    page 2: it could not end within the run's timeout.
    """
    sim.state.configure(per_page=800, downloads_per_minute=1000, job_seconds=(0.02, 0.05))
    killed = run_cli(
        sim, prefect_api, tmp_path, "export", "Leads", "--full",
        env={"ZOHO_ETL_FAILPOINTS": "job-created@Leads:1"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert ledger_states(tmp_path) == [(1, "created")]
    ((_, _, page1_job, _),) = ledger_jobs(tmp_path, "Leads")
    assert page1_job is not None
    shift_ledger_back(tmp_path, minutes=12)
    sim.state.clock.advance(12 * 60)

    resumed = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "--full", timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    stats = sim.state.stats.snapshot()
    assert stats["jobs_created"][KEY] == 3  # re-attached to page 1's job, no extra job
    assert stats["polls"][page1_job] == 1  # asked at once: already COMPLETED
    assert job_seconds_by_page(tmp_path) == [(1, None), (2, True), (3, True)]
    ids = warehouse_ids(tmp_path, "crm_Leads")
    assert len(ids) == len(set(ids)) == 2000


def shift_ledger_back(data_dir: Path, *, minutes: int) -> None:
    """Make the ledger look as if its run happened ``minutes`` earlier."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    try:
        for table, columns in (
            ("jobs", ("planned_at", "created_at", "updated_at")),
            ("extracts", ("started_at",)),
            ("credit_spend", ("spent_at",)),
        ):
            moved = ", ".join(f"{c} = {c} - INTERVAL {minutes} MINUTE" for c in columns)
            con.execute(f"UPDATE zoho_etl.{table} SET {moved}")
    finally:
        con.close()


def job_seconds_by_page(data_dir: Path) -> list[tuple[int, bool | None]]:
    """Per page: None when the ledger has no job time, True when it has one."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT page, job_seconds FROM zoho_etl.jobs ORDER BY page").fetchall()
    finally:
        con.close()
    return [(int(page), None if seconds is None else True) for page, seconds in rows]
