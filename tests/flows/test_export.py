"""The export flow on a Prefect test server: failing modules, artifacts, drift, a Dask runner."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from engine.runtime import runtime_for
from engine.settings import RunSettings, ZohoConnection
from flows.connection import run_overrides
from flows.export import export_flow
from simulator.testing import SimServer
from tests.flows.prefect_rest import api_post, artifact_keys

pytestmark = pytest.mark.usefixtures("simulated_org")

ORG = "us-enterprise"


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
