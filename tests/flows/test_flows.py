"""The Prefect flows themselves: few runs (each costs about a second), one test server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from flows.backfill import backfill_flow
from flows.export import export_flow
from flows.runtime import runtime_for
from flows.settings import RunSettings, ZohoConnection
from flows.writeback import DEMO_MAPPING, demo_rows, writeback_flow
from simulator.testing import SimServer

ORG = "us-enterprise"


def artifact_keys(api: str, keys: list[str]) -> set[str]:
    """Keys of the artifacts the Prefect server holds, among ``keys``."""
    body = {"artifacts": {"key": {"any_": keys}}, "limit": 100, "offset": 0, "sort": "CREATED_DESC"}
    response = httpx.post(f"{api}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    return {a["key"] for a in response.json() if a.get("key")}


def test_export_flow_isolates_a_failing_module_and_publishes_artifacts(
    prefect_api: str, sim: SimServer, settings: RunSettings, connection: ZohoConnection
) -> None:
    sim.state.configure(per_page=800)
    state = export_flow(
        product="crm",
        modules=["Leads", "Projects__c"],
        mode="full",
        settings=settings,
        simulator_url=sim.base_url,
        return_state=True,
    )
    assert state.is_failed()
    assert "Projects__c" in str(state.message)
    assert "Leads" not in str(state.message).split("parts:")[1]
    # drift: Zoho gains a field; the next incremental run adds the column and reports it
    sim.state.add_field(ORG, "crm", "Leads", "Loyalty_Tier__c", "text")
    store = sim.state.store(ORG, "crm", "Leads")
    first = str(next(store.iter_chunks(["Modified_Time"]))["id"][0])
    sim.state.update_record(ORG, "crm", "Leads", first, {"Loyalty_Tier__c": "Gold"})
    rows = export_flow(
        product="crm", modules=["Leads"], settings=settings, simulator_url=sim.base_url
    )
    assert rows[0]["kind"] == "incremental"
    assert rows[0]["status"] == "ok"
    rt = runtime_for(connection, settings)
    with rt.load_lock:
        loaded = rt.warehouse.read_table("crm_Leads")
    assert loaded.filter(pc.equal(loaded["id"], first))["Loyalty_Tier__c"].to_pylist() == ["Gold"]
    keys = artifact_keys(prefect_api, ["export-crm", "progress-crm-leads", "drift-crm-leads"])
    assert keys == {"export-crm", "progress-crm-leads", "drift-crm-leads"}


def test_backfill_and_writeback_flows_publish_their_tables(
    prefect_api: str, sim: SimServer, settings: RunSettings, connection: object, tmp_path: Path
) -> None:
    sim.state.configure(per_page=300)
    rows = backfill_flow(
        product="crm",
        module="Deals",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 1, tzinfo=UTC),
        window_days=365,
        settings=settings,
        simulator_url=sim.base_url,
    )
    assert {r["status"] for r in rows} == {"loaded"}
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(DEMO_MAPPING, encoding="utf-8")
    source = tmp_path / "leads.parquet"
    pq.write_table(demo_rows(), source)
    dry = writeback_flow(
        product="crm",
        mapping_path=str(mapping),
        source=str(source),
        dry_run=True,
        settings=settings,
        simulator_url=sim.base_url,
    )
    assert dry["counts"] == {"rows": 20, "valid": 17, "rejected": 3}
    assert dry["credits"] == 0
    real = writeback_flow(
        product="crm",
        mapping_path=str(mapping),
        source=str(source),
        dry_run=False,
        settings=settings,
        simulator_url=sim.base_url,
    )
    assert real["counts"]["added"] == 17
    assert real["counts"]["rejected"] == 3
    assert real["results_table"] == "writeback_crm_Leads"
    assert sim.state.store(ORG, "crm", "Leads").find("Last_Name", "Writeback 1")
    keys = artifact_keys(prefect_api, ["backfill-crm-deals", "write-crm-leads"])
    assert keys == {"backfill-crm-deals", "write-crm-leads"}


@pytest.mark.slow
def test_export_runs_on_a_local_dask_cluster(
    prefect_api: str, sim: SimServer, settings: RunSettings, connection: object
) -> None:
    sim.state.configure(per_page=200)  # Recruit pages by page number: Interviews takes 3
    dask = settings.model_copy(update={"task_runner": "dask", "concurrency": 2})
    rows = export_flow(
        product="recruit",
        modules=["Job_Openings", "Interviews"],
        mode="full",
        settings=dask,
        simulator_url=sim.base_url,
    )
    assert {r["module"]: r["rows loaded"] for r in rows} == {
        "Job_Openings": len(sim.state.store(ORG, "recruit", "Job_Openings")),
        "Interviews": len(sim.state.store(ORG, "recruit", "Interviews")),
    }
    assert {r["module"]: r["pages"] for r in rows} == {"Job_Openings": 1, "Interviews": 3}
