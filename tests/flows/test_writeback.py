"""The backfill and write-back flows on a Prefect test server: results and artifacts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli.demo import DEMO_MAPPING, demo_rows
from engine.settings import RunSettings
from flows.backfill import backfill_flow
from flows.writeback import writeback_flow
from simulator.testing import SimServer
from tests.flows.prefect_rest import artifact_keys, latest_artifact

pytestmark = pytest.mark.usefixtures("simulated_org")

ORG = "us-enterprise"


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
