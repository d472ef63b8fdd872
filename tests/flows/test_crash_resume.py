"""Kill the export (a real ``zoho-etl export`` process, SIGKILL) at each step and resume.

The run is killed after a bulk job was created (page 2, created ahead while page 1 was still
downloading), during the download of page 2, and inside the warehouse merge of page 3; each
time the same command is started again. The final warehouse must equal a clean run's, row by
row, with no extra bulk job created and the bulk-job credits at their minimum.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from simulator.testing import SimServer

ORG = "us-enterprise"
KEY = f"{ORG}/crm/Leads"


def run_export(sim: SimServer, api: str, data_dir: Path, failpoint: str | None) -> int:
    env = dict(os.environ)
    env.update(
        PREFECT_API_URL=api,
        PREFECT_LOGGING_LEVEL="WARNING",
        ZOHO_ETL_POLL_INTERVAL="0.05",
        ZOHO_ETL_DOWNLOADS_PER_MINUTE="1000",
    )
    env.pop("ZOHO_ETL_FAILPOINTS", None)
    if failpoint:
        env["ZOHO_ETL_FAILPOINTS"] = failpoint
    command = [
        sys.executable,
        "-m",
        "flows",
        "export",
        "Leads",
        "--full",
        "--simulator",
        sim.base_url,
        "--data-dir",
        str(data_dir),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
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
