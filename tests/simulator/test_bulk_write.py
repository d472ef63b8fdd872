"""A bulk write job in the simulator over real HTTP: status, counts, result, record changes."""

from __future__ import annotations

from simulator.testing import SimServer
from simulator.write_processing import wait_write_jobs
from tests.simulator.writes import LEAD_HEADER, Writer


def test_insert_lifecycle_result_and_records(sim: SimServer, w: Writer) -> None:
    sim.state.add_fault("slow_job", seconds=100)
    before = sim.state.stats.credits_used["us-enterprise"]
    rows = [LEAD_HEADER, ["Ng", "Acme", "ng@acme.io", "Qualified", "CRM;Desk", "TRUE"]]
    job_id = w.job(rows)
    assert sim.state.stats.credits_used["us-enterprise"] - before == 1 + 500
    wait_write_jobs(sim.state)
    seen = [w.details(job_id)["status"]]
    for step in (30, 80):
        sim.state.clock.advance(step)
        seen.append(w.details(job_id)["status"])
    assert seen == ["ADDED", "IN PROGRESS", "COMPLETED"]
    detail = w.details(job_id)
    assert detail["operation"] == "insert"
    assert detail["character_encoding"] == "UTF-8"
    assert "data" not in detail
    resource = detail["resource"][0]
    assert resource["module"]["api_name"] == "Leads"
    assert resource["file"] == {
        "status": "COMPLETED",
        "name": "Leads.csv",
        "added_count": 1,
        "skipped_count": 0,
        "updated_count": 0,
        "total_count": 1,
    }
    assert resource["field_mappings"][0] == {
        "api_name": "Last_Name", "index": 0, "format": None, "find_by": None,
        "module": None, "parent_column_index": None, "default_value": None,
    }  # fmt: skip
    url = detail["result"]["download_url"]
    assert (
        url == f"{w.c.sim.base_url}/us/download/v2/crm/700000001/bulk-write/{job_id}/{job_id}.zip"
    )
    (row,) = w.results(job_id)
    assert list(row) == ["Last_Name", "Company", "Email", "STATUS", "RECORD_ID", "ERRORS"]
    assert (row["STATUS"], row["ERRORS"]) == ("ADDED", "")
    record = sim.state.get_record("us-enterprise", "crm", "Leads", row["RECORD_ID"])
    assert record is not None
    assert record["Product_Interest"] == "CRM;Desk"
    assert record["Email_Opt_Out"] == "true"
    assert record["Lead_Status"] == "Qualified"
