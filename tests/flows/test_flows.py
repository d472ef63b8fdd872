"""The Prefect flows themselves: few runs (each costs about a second), one test server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cli.demo import DEMO_MAPPING, demo_rows
from engine.runtime import runtime_for
from engine.settings import RunSettings, ZohoConnection
from flows.backfill import backfill_flow
from flows.connection import run_overrides
from flows.export import export_flow
from flows.writeback import writeback_flow
from simulator.testing import SimServer

ORG = "us-enterprise"


@pytest.fixture(autouse=True)
def simulated_org(settings: RunSettings, connection: ZohoConnection) -> Iterator[None]:
    """Flows called in these tests use the simulator and the fast test settings."""
    with run_overrides(settings=settings, connection=connection):
        yield


def api_post(api: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def latest_artifact(api: str, key: str) -> dict[str, Any]:
    body = {"artifacts": {"key": {"any_": [key]}}, "limit": 1, "sort": "CREATED_DESC"}
    found: list[dict[str, Any]] = api_post(api, "/artifacts/filter", body)
    assert found, f"no artifact {key}"
    return found[0]


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
        return_state=True,
    )
    assert state.is_failed()
    assert "Projects__c" in str(state.message)
    assert "Leads" not in str(state.message).split("parts:")[1]
    # task runs are named by task_run_name, without Prefect's random suffix
    run_id = str(state.state_details.flow_run_id)
    tasks = api_post(prefect_api, "/task_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    names = {t["name"] for t in tasks}
    assert {"export crm Leads", "bulk-read Leads page 1", "bulk-read Leads page 3"} <= names
    # drift: Zoho gains a field; the next incremental run adds the column and reports it
    sim.state.add_field(ORG, "crm", "Leads", "Loyalty_Tier__c", "text")
    store = sim.state.store(ORG, "crm", "Leads")
    first = str(next(store.iter_chunks(["Modified_Time"]))["id"][0])
    sim.state.update_record(ORG, "crm", "Leads", first, {"Loyalty_Tier__c": "Gold"})
    rows = export_flow(product="crm", modules=["Leads"])
    assert rows[0]["kind"] == "incremental"
    assert rows[0]["status"] == "ok"
    rt = runtime_for(connection, settings)
    with rt.load_lock:
        loaded = rt.warehouse.read_table("crm_Leads")
    assert loaded.filter(pc.equal(loaded["id"], first))["Loyalty_Tier__c"].to_pylist() == ["Gold"]
    keys = artifact_keys(prefect_api, ["export-crm", "progress-crm-leads", "drift-crm-leads"])
    assert keys == {"export-crm", "progress-crm-leads", "drift-crm-leads"}
    # one progress artifact per module and run, updated in place to 100% at its end
    progress = api_post(
        prefect_api,
        "/artifacts/filter",
        {"artifacts": {"key": {"any_": ["progress-crm-leads"]}, "flow_run_id": {"any_": [run_id]}}},
    )
    assert [p["data"] for p in progress] == [100.0]


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
    )
    assert dry.counts == {"rows": 20, "valid": 17, "rejected": 3}
    assert dry.credits == 0
    real = writeback_flow(
        product="crm",
        mapping_path=str(mapping),
        source=str(source),
        dry_run=False,
    )
    assert real.counts["added"] == 17
    assert real.counts["rejected"] == 3
    assert real.results_table == "writeback_crm_Leads"
    assert sim.state.store(ORG, "crm", "Leads").find("Last_Name", "Writeback 1")
    keys = artifact_keys(prefect_api, ["backfill-crm-deals", "write-crm-leads"])
    assert keys == {"backfill-crm-deals", "write-crm-leads"}
    summary = json.loads(latest_artifact(prefect_api, "write-crm-leads")["data"])
    assert summary == [
        {
            "mode": "bulk write",
            "operation": "insert",
            "jobs": 1,
            "credits": 500,
            **real.counts,
        }
    ]
    per_row = json.loads(latest_artifact(prefect_api, "write-rows-crm-leads")["data"])
    assert len(per_row) == 20
    assert {tuple(r) for r in per_row} == {("key", "status", "record id", "reason")}
    rejected = {r["key"]: r["reason"] for r in per_row if r["status"] == "REJECTED"}
    assert set(rejected) == {"L-005", "L-011", "L-017"}
    assert "Last_Name" in rejected["L-005"]
    assert all(r["record id"] for r in per_row if r["status"] == "ADDED")


@pytest.mark.slow
def test_export_runs_on_a_local_dask_cluster(
    prefect_api: str, sim: SimServer, settings: RunSettings, connection: object
) -> None:
    sim.state.configure(per_page=200)  # Recruit pages by page number: Interviews takes 3
    dask = settings.model_copy(update={"task_runner": "dask", "concurrency": 2})
    with run_overrides(settings=dask, connection=connection):  # type: ignore[arg-type]
        rows = export_flow(product="recruit", modules=["Job_Openings", "Interviews"], mode="full")
    assert {r["module"]: r["rows loaded"] for r in rows} == {
        "Job_Openings": len(sim.state.store(ORG, "recruit", "Job_Openings")),
        "Interviews": len(sim.state.store(ORG, "recruit", "Interviews")),
    }
    assert {r["module"]: r["pages"] for r in rows} == {"Job_Openings": 1, "Interviews": 3}
