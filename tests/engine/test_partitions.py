"""A full export as concurrent bulk jobs over ``Created_Time`` windows, against the simulator."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pyarrow.compute as pc

from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import ExtractRecord, ExtractState, JobRecord
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import ZohoConnection
from engine.summary import PageOutcome
from engine.windows import OPEN_END
from simulator.testing import SimServer
from tests.conftest import fast_settings
from tests.flows.cli_process import run_cli, warehouse_ids

ORG = "us-enterprise"
#: bulk even for these 2,000 Leads (REST would cost less: ``engine.cost``)
FULL = ExportOptions(mode="full", rest_max_records=100)


def jobs_created(sim: SimServer, module: str = "Leads") -> int:
    return int(sim.state.stats.snapshot()["jobs_created"].get(f"{ORG}/crm/{module}", 0))


def sim_count(sim: SimServer, module: str = "Leads") -> int:
    store = sim.state.store(ORG, "crm", module)
    assert store is not None
    return len(store)


def partition_extracts(rt: Runtime) -> list[ExtractRecord]:
    return [e for e in rt.ledger.recent_extracts(500) if e.kind == "partition"]


def table_ids(rt: Runtime, table: str = "crm_Leads") -> list[str]:
    with rt.load_lock:
        return [str(i) for i in rt.warehouse.read_table(table)["id"].to_pylist()]


def partition_ledger(data_dir: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """``extract_id -> (state, job keys)`` of every partition window in a CLI run's ledger."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT e.extract_id, e.state, j.job_key FROM zoho_etl.extracts e "
            "LEFT JOIN zoho_etl.jobs j ON j.extract_id = e.extract_id "
            "WHERE e.kind = 'partition'"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, tuple[str, set[str]]] = {}
    for extract_id, state, job_key in rows:
        found.setdefault(extract_id, (state, set()))[1].update([job_key] if job_key else [])
    return {e: (state, frozenset(keys)) for e, (state, keys) in found.items()}


class TogetherSteps(DirectSteps):
    """Pages that wait until ``parties`` windows are in their page step at the same time: a
    serial export never gets there and fails on the barrier's timeout."""

    def __init__(self, rt: Runtime, parties: int) -> None:
        super().__init__(rt)
        self.barrier = threading.Barrier(parties, timeout=60)

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        self.barrier.wait()
        return super().page(extract, job, allow_split)


def test_second_full_export_runs_its_windows_at_once_with_the_same_credits(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.configure(per_page=800)
    first = export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
    assert (first.pages, first.bulk_jobs_created) == (3, 3)  # nothing to cut yet: serial
    assert "windows" not in first.reason

    second = export_module(rt, "crm", "Leads", FULL, TogetherSteps(rt, parties=3))
    assert "3 Created_Time windows of <= 800 records" in second.reason
    assert (second.pages, second.bulk_jobs_created) == (3, 3)
    assert jobs_created(sim) == 6
    assert second.credits <= first.credits * 1.05
    assert second.rows_loaded == 2000
    ids = table_ids(rt)
    assert len(ids) == len(set(ids)) == sim_count(sim) == 2000
    windows = partition_extracts(rt)
    assert len(windows) == 3
    assert all(w.state == ExtractState.LOADED for w in windows)
    (parent_id,) = {w.parent_id for w in windows}
    assert parent_id is not None
    assert rt.ledger.get_extract(parent_id).state == ExtractState.LOADED
    third = export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
    assert (third.pages, third.bulk_jobs_created) == (3, 3)  # a new export reads every window
    assert len(partition_extracts(rt)) == 6


class CreateDuringExport(DirectSteps):
    """Creates a Lead in Zoho once the first window's page has started (after the plan)."""

    def __init__(self, rt: Runtime, sim: SimServer) -> None:
        super().__init__(rt)
        self.sim = sim
        self.created: str | None = None
        self.lock = threading.Lock()

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        with self.lock:
            if self.created is None:
                store = self.sim.state.store(ORG, "crm", "Leads")
                assert store is not None
                self.created = store.insert({"Last_Name": "Created-During-Export"})
        return super().page(extract, job, allow_split)


def test_a_record_created_during_a_partitioned_export_lands_in_the_last_window(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.configure(per_page=800)
    export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
    steps = CreateDuringExport(rt, sim)
    summary = export_module(rt, "crm", "Leads", FULL, steps)
    assert steps.created is not None
    assert summary.rows_loaded == 2001
    with rt.load_lock:
        table = rt.warehouse.read_table("crm_Leads")
    row = table.filter(pc.equal(table["id"], steps.created))
    assert row.num_rows == 1
    job_id = row["_zoho_job_id"][0].as_py()
    (window,) = [
        w
        for w in partition_extracts(rt)
        if any(j.job_id == job_id for j in rt.ledger.jobs_for_extract(w.extract_id))
    ]
    assert window.window_end == OPEN_END  # the open-ended last window read it
    ids = table_ids(rt)
    assert len(ids) == len(set(ids)) == 2001


def test_a_window_zoho_reports_over_one_page_is_split(sim: SimServer, rt: Runtime) -> None:
    sim.state.configure(per_page=800)
    export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))  # windows of <= 800 planned next
    sim.state.configure(per_page=500)  # ...but Zoho now says 500 a page: ~667 is too many
    summary = export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
    windows = partition_extracts(rt)
    split = [w for w in windows if w.state == ExtractState.SPLIT]
    assert split, "a closed window with more_records must be split"
    halves = [w for w in windows if w.parent_id in {s.extract_id for s in split}]
    assert len(halves) == 2 * len(split)
    assert summary.rows_loaded == 2000
    ids = table_ids(rt)
    assert len(ids) == len(set(ids)) == 2000


def test_one_active_job_means_serial_pages(
    sim: SimServer, connection: ZohoConnection, tmp_path: Path
) -> None:
    sim.state.configure(per_page=800)
    rt = runtime_for(connection, fast_settings(tmp_path / "data", active_bulk_jobs=1))
    try:
        export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
        second = export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
        assert "windows" not in second.reason
        assert second.pages == 3
        assert partition_extracts(rt) == []
    finally:
        close_runtimes()


def test_a_kill_during_parallel_windows_resumes_without_new_jobs_for_finished_windows(
    sim: SimServer, connection: ZohoConnection, prefect_api: str, tmp_path: Path
) -> None:
    # past REST's break-even (11,400 records), so the CLI's full export is a bulk read
    records = dict(sim.state.config.records, Leads=12_000)
    sim.state.configure(per_page=5_000, records=records)
    data = tmp_path / "data"
    export = ("export", "Leads", "--full")
    assert run_cli(sim, prefect_api, data, *export).returncode == 0  # serial: the distribution
    killed = run_cli(
        sim,
        prefect_api,
        data,
        *export,
        env={"ZOHO_ETL_FAILPOINTS": "window-loaded@Leads:1", "ZOHO_ETL_ACTIVE_BULK_JOBS": "2"},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    windows_before = partition_ledger(data)
    loaded_before = {e for e, (state, _) in windows_before.items() if state == "loaded"}
    assert loaded_before, "the kill came after a window was loaded"
    created_before = jobs_created(sim)

    done = run_cli(sim, prefect_api, data, *export, env={"ZOHO_ETL_ACTIVE_BULK_JOBS": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    windows_after = partition_ledger(data)
    for extract_id in loaded_before:  # finished windows: no new job, still loaded
        assert windows_after[extract_id] == windows_before[extract_id]
    jobs_before = {j for _, jobs in windows_before.values() for j in jobs}
    jobs_after = {j for _, jobs in windows_after.values() for j in jobs}
    assert jobs_created(sim) - created_before <= len(jobs_after - jobs_before)
    assert all(state == "loaded" for state, _ in windows_after.values())
    ids = warehouse_ids(data, "crm_Leads")
    assert len(ids) == len(set(ids)) == 12_000
