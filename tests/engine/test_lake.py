"""The lake through the real engine: exports against the simulator over loopback, the lake
table compared with the warehouse table row for row (values and types)."""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.lake import open_lake_table
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import RunSettings, ZohoConnection
from simulator.testing import SimServer
from tests.conftest import fast_settings
from tests.engine.tablerows import assert_same_table
from tests.flows.cli_process import ledger_jobs, run_cli
from transforms.errors import SchemaDriftError
from transforms.lake import LakeTable
from transforms.lake.reading import has_deletion_vectors

ORG = "us-enterprise"


def warehouse_table(rt: Runtime, table: str) -> pa.Table:
    with rt.load_lock:
        return rt.warehouse.read_table(table).sort_by("id")


def lake_table(rt: Runtime, module: str, **read: object) -> pa.Table:
    return open_lake_table(rt.settings, "crm", module).read(**read).sort_by("id")  # type: ignore[arg-type]


def assert_lake_equals_warehouse(rt: Runtime, module: str) -> pa.Table:
    """One row per id in the lake, and the same rows, values and types as the warehouse."""
    return assert_same_table(lake_table(rt, module), warehouse_table(rt, f"crm_{module}"))


def landing_files(settings: RunSettings) -> list[Path]:
    return sorted(p for p in settings.parquet_root.rglob("*.parquet") if "_rejects" not in p.parts)


def change_some_leads(sim: SimServer) -> tuple[list[str], list[str]]:
    """Update 25 Leads, delete 6 and insert one; returns (updated ids, deleted ids)."""
    state = sim.state
    store = state.store(ORG, "crm", "Leads")
    assert store is not None
    ids = [str(i) for i in next(store.iter_chunks(["Modified_Time"]))["id"].to_pylist()]
    for record_id in ids[10:35]:
        state.update_record(ORG, "crm", "Leads", record_id, {"Description": "changed"})
    for record_id in ids[100:106]:
        state.delete_record(ORG, "crm", "Leads", record_id)
    state.insert_record(ORG, "crm", "Leads", {"Last_Name": "Neu", "Company": "Neu GmbH"})
    return ids[10:35], ids[100:106]


def test_full_incremental_and_deletes_keep_the_lake_equal_to_the_warehouse(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.configure(per_page=800)
    export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    table = open_lake_table(rt.settings, "crm", "Leads")
    # three pages of a first load: three appends (version 0..2) of the landing files
    # themselves (transforms.lake.adopt), whose landing names are removed
    assert table.version == 2
    operations = [h["zoho_etl_operation"] for h in table.delta_table().history()]
    assert operations == ["append"] * 3
    assert all(Path(f).name.startswith("zoho-") for f in table.delta_table().file_uris())
    assert landing_files(rt.settings) == []
    after_full = assert_lake_equals_warehouse(rt, "Leads")
    assert after_full.num_rows == 2000

    updated, deleted = change_some_leads(sim)
    summary = export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
    assert (summary.kind, summary.deleted) == ("incremental", 6)
    lake = assert_lake_equals_warehouse(rt, "Leads")
    assert lake.num_rows == 2001  # one new record; deleted ones stay, marked
    marked = lake.filter(pc.is_valid(lake["_zoho_deleted_at"]))["id"].to_pylist()
    assert sorted(marked) == sorted(deleted)
    live = lake_table(rt, "Leads", live_only=True)
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    assert live.num_rows == len(store) == 1995
    changed = lake.filter(pc.is_in(lake["id"], pa.array(updated)))
    assert set(changed["Description"].to_pylist()) == {"changed"}

    # time travel: the version before the incremental run is the full load, unchanged
    assert lake_table(rt, "Leads", version=2).to_pylist() == after_full.to_pylist()
    # a run with nothing new: the same deletions (if listed again) commit nothing
    export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
    assert_lake_equals_warehouse(rt, "Leads")
    history = table.delta_table().history()
    assert [h.get("zoho_etl_operation") for h in history].count("mark_deleted") == 1


def test_with_deletion_vectors_exports_keep_the_lake_equal_to_the_warehouse(
    sim: SimServer, connection: ZohoConnection, tmp_path: Path
) -> None:
    rt = runtime_for(connection, fast_settings(tmp_path / "data", lake_deletion_vectors=True))
    sim.state.configure(per_page=800)
    export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    updated, deleted = change_some_leads(sim)
    export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
    table = open_lake_table(rt.settings, "crm", "Leads")
    assert has_deletion_vectors(table.delta_table())
    lake = assert_lake_equals_warehouse(rt, "Leads")
    assert lake.num_rows == 2001
    changed = lake.filter(pc.is_in(lake["id"], pa.array(updated)))
    assert set(changed["Description"].to_pylist()) == {"changed"}
    marked = lake.filter(pc.is_valid(lake["_zoho_deleted_at"]))["id"].to_pylist()
    assert sorted(marked) == sorted(deleted)
    # a full export again: every page meets stored ids and is merged with vectors
    before = table.delta_table().version()
    export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert_lake_equals_warehouse(rt, "Leads")
    history = table.delta_table().history()[: table.delta_table().version() - before]
    assert history
    assert {h["operationParameters"].get("mode") for h in history} == {"deletion vectors"}
    close_runtimes()


def test_a_type_drift_widens_the_lake_column_like_the_warehouse(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.configure(per_page=1500)
    export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    before = lake_table(rt, "Leads")
    assert before.schema.field("Lead_Score").type == pa.int64()
    sim.state.change_field_type(ORG, "crm", "Leads", "Lead_Score", "text")
    change_some_leads(sim)
    export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
    lake = assert_lake_equals_warehouse(rt, "Leads")
    assert lake.schema.field("Lead_Score").type == pa.string()
    history = open_lake_table(rt.settings, "crm", "Leads").delta_table().history()
    widened = [h for h in history if h.get("zoho_etl_operation") == "widen_columns"]
    assert len(widened) == 1
    assert "Lead_Score" in widened[0]["zoho_etl_widened"]


def test_a_frozen_module_refuses_the_drift_and_the_lake_keeps_its_version(
    sim: SimServer, connection: ZohoConnection, tmp_path: Path
) -> None:
    sim.state.configure(per_page=1500)
    rt = runtime_for(connection, fast_settings(tmp_path / "data", drift_policy="freeze"))
    try:
        export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
        table = open_lake_table(rt.settings, "crm", "Leads")
        version, before = table.version, lake_table(rt, "Leads")
        sim.state.change_field_type(ORG, "crm", "Leads", "Lead_Score", "text")
        change_some_leads(sim)
        with pytest.raises(SchemaDriftError, match="Lead_Score"):
            export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
        assert table.version == version
        assert lake_table(rt, "Leads").to_pylist() == before.to_pylist()
    finally:
        close_runtimes()


def test_keep_landing_leaves_the_page_files_and_the_lake_may_be_a_uri(
    sim: SimServer, connection: ZohoConnection, tmp_path: Path
) -> None:
    sim.state.configure(per_page=1500)
    lake_uri = (tmp_path / "elsewhere").as_uri()  # a URI, as for cloud storage
    rt = runtime_for(
        connection, fast_settings(tmp_path / "data", keep_landing_days=3, lake_uri=lake_uri)
    )
    try:
        export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
        files = landing_files(rt.settings)
        assert len(files) == 2  # two pages, one file each
        assert all(f.parent.parent.name.startswith("extracted_date=") for f in files)
        assert lake_table(rt, "Leads").num_rows == 2000
        assert (tmp_path / "elsewhere/crm/Leads/_delta_log").is_dir()
        assert_readers_agree(lake_uri + "/crm/Leads", lake_table(rt, "Leads"))
    finally:
        close_runtimes()


def assert_readers_agree(location: str, expected: pa.Table) -> None:
    """The README's readers: pandas, DuckDB over the Arrow dataset, a plain pyarrow dataset."""
    import duckdb
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    leads = DeltaTable(location)
    frame = leads.to_pandas()
    assert sorted(frame["id"]) == expected["id"].to_pylist()
    live = leads.to_pyarrow_dataset()  # noqa: F841 (DuckDB finds it by its name)
    counted = duckdb.sql(
        "SELECT count(*), count(DISTINCT id) FROM live WHERE _zoho_deleted_at IS NULL"
    ).fetchall()
    assert counted == [(expected.num_rows, expected.num_rows)]
    plain = ds.dataset(leads.file_uris(), format="parquet").to_table(columns=["id"])
    assert sorted(plain["id"].to_pylist()) == expected["id"].to_pylist()


def lake_and_warehouse(data_dir: Path) -> tuple[pa.Table, pa.Table]:
    """The Leads lake table and warehouse table a CLI run left in ``data_dir``."""
    from transforms import open_warehouse

    warehouse = open_warehouse(f"duckdb:///{data_dir / 'warehouse.duckdb'}")
    try:
        stored = warehouse.read_table("crm_Leads").sort_by("id")
    finally:
        warehouse.close()
    lake = LakeTable.open(str(data_dir / "lake"), "crm", "Leads").read().sort_by("id")
    return lake.select(stored.column_names), stored


@pytest.mark.slow
def test_a_kill_inside_a_lake_commit_and_before_the_ledger_resumes_exactly(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    sim.state.configure(per_page=800, downloads_per_minute=1000, job_seconds=(0.02, 0.05))
    table = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    # killed inside page 2's lake write: its data is written, its commit is not
    killed = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "--full",
                     env={"ZOHO_ETL_FAILPOINTS": "lake-write@Leads:2"})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert [(p, s) for p, s, _, _ in ledger_jobs(tmp_path, "Leads")][:2] == [
        (1, "loaded"),
        (2, "downloaded"),
    ]
    assert (table.version, table.read().num_rows) == (0, 800)
    # killed after page 3's lake commit, before the ledger marks it loaded
    killed = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "--full",
                     env={"ZOHO_ETL_FAILPOINTS": "lake-committed@Leads:3"})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert [s for _, s, _, _ in ledger_jobs(tmp_path, "Leads")] == [
        "loaded",
        "loaded",
        "downloaded",
    ]
    assert (table.version, table.read().num_rows) == (2, 2000)

    resumed = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "--full")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [s for _, s, _, _ in ledger_jobs(tmp_path, "Leads")] == ["loaded"] * 3
    assert table.version == 2  # page 3 was in the lake already: skipped, not committed twice
    lake, stored = lake_and_warehouse(tmp_path)
    assert lake.num_rows == pc.count_distinct(lake["id"]).as_py() == 2000
    assert lake.to_pylist() == stored.to_pylist()
    assert landing_files(RunSettings(data_dir=str(tmp_path))) == []
