"""The Creator flows on a Prefect test server: export, then retention dry run and delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.runtime import runtime_for
from engine.settings import RunSettings, ZohoConnection
from flows.connection import run_overrides
from flows.creator import creator_export_flow, creator_retention_flow
from simulator.testing import SimServer
from tests.engine.creatorhelpers import APP, FORM, ORG, REPORT, TABLE, sim_creator


@pytest.fixture(autouse=True)
def simulated_org(settings: RunSettings, connection: ZohoConnection) -> Iterator[None]:
    with run_overrides(settings=settings, connection=connection):
        yield


def _task_run_names(api: str, flow_run_id: str) -> list[str]:
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
    response = httpx.post(f"{api}/task_runs/filter", json=body, timeout=30)
    response.raise_for_status()
    runs: list[dict[str, Any]] = response.json()
    return sorted(r["name"] for r in runs)


def test_creator_flows_export_then_dry_run_then_delete(
    prefect_api: str,
    sim: SimServer,
    settings: RunSettings,
    connection: ZohoConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZOHO_CREATOR_OWNER", "jason18")
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 800})
    base = creator.form_store(ORG, APP, FORM).values.base_id
    state = creator_export_flow(app=APP, report=REPORT, mode="full", return_state=True)
    assert state.is_completed(), state.message
    row = state.result()
    assert (row["rows loaded"], row["table"]) == (800, TABLE)
    run_id = str(state.state_details.flow_run_id)
    assert _task_run_names(prefect_api, run_id) == [f"export creator {APP}/{REPORT}"]
    criteria = f"ID < {base + 300}"
    dry = creator_retention_flow(app=APP, report=REPORT, criteria=criteria, dry_run=True)
    assert (dry["matched"], dry["deleted"]) == (300, 0)
    done = creator_retention_flow(app=APP, report=REPORT, criteria=criteria, dry_run=False)
    assert (done["deleted"], done["delete calls"]) == (300, 2)
    loaded = runtime_for(connection, settings).warehouse.read_table(TABLE)
    assert loaded.num_rows - loaded["_zoho_deleted_at"].null_count == 300
    refused = creator_retention_flow(
        app=APP, report=REPORT, criteria="ID != 0", dry_run=False, return_state=True
    )
    assert refused.is_failed()
    assert "--all" in str(refused.message)
