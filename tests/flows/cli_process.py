"""Run ``zoho-etl`` as a real child process against the simulator, and read what it left.

Shared by the tests that need a separate process (exit codes, ``kill -9``, a resumed run):
``run_cli`` starts ``python -m cli COMMAND ... --simulator URL --data-dir DIR`` with fast
polling; ``warehouse_ids`` and ``ledger_jobs`` read the DuckDB file it wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import duckdb

from simulator.testing import SimServer


def _child(
    sim: SimServer, api: str, data_dir: Path, args: tuple[str, ...], env: Mapping[str, str] | None
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of ``zoho-etl ARGS`` against the simulator."""
    child = dict(os.environ)
    child.pop("ZOHO_ETL_FAILPOINTS", None)
    child.update(
        PREFECT_API_URL=api, ZOHO_ETL_POLL_INTERVAL="0.05", ZOHO_ETL_DOWNLOADS_PER_MINUTE="1000"
    )
    child.update(env or {})
    command = [sys.executable, "-m", "cli", *args]
    return [*command, "--simulator", sim.base_url, "--data-dir", str(data_dir)], child


def run_cli(
    sim: SimServer,
    api: str,
    data_dir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """``zoho-etl ARGS --simulator ... --data-dir ...`` in a child process, to its end."""
    command, child = _child(
        sim, api, data_dir, args, {"PREFECT_LOGGING_LEVEL": "WARNING", **(env or {})}
    )
    return subprocess.run(command, env=child, capture_output=True, text=True, timeout=timeout)


def start_cli(
    sim: SimServer, api: str, data_dir: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """``zoho-etl ARGS --simulator ... --data-dir ...`` started in a child process."""
    command, child = _child(sim, api, data_dir, args, env)
    return subprocess.Popen(
        command, env=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def warehouse_ids(data_dir: Path, table: str) -> list[str]:
    """Every ``id`` of a warehouse table, repeats included."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return [str(r[0]) for r in con.execute(f'SELECT id FROM "{table}"').fetchall()]
    finally:
        con.close()


def ledger_jobs(data_dir: Path, module: str) -> list[tuple[int, str, str | None, str | None]]:
    """``(page, state, job_id, error)`` of every ledger job of ``module``, oldest first."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT page, state, job_id, error FROM zoho_etl.jobs WHERE module = ? "
            "ORDER BY planned_at",
            [module],
        ).fetchall()
    finally:
        con.close()
    return [(int(p), str(s), j, e) for p, s, j, e in rows]


def sim_ids_modified_between(
    sim: SimServer, org: str, module: str, start: datetime, end: datetime
) -> set[str]:
    """Ids of the simulator's records of ``module`` with ``start <= Modified_Time < end``."""
    store = sim.state.store(org, "crm", module)
    assert store is not None
    ids: set[str] = set()
    for chunk in store.iter_chunks(["Modified_Time"]):
        for row in chunk.to_pylist():
            modified = datetime.fromisoformat(row["Modified_Time"])
            if start <= modified < end:
                ids.add(str(row["id"]))
    return ids
