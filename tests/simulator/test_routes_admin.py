from __future__ import annotations

from typing import Any

import requests

from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller

LEADS: dict[str, Any] = {"module": {"api_name": "Leads"}}


def _admin(sim: SimServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/_sim{path}", timeout=5, **kwargs)


def test_records_inserted_updated_and_deleted_over_http(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(records={**sim.state.config.records, "Leads": 50})
    before = crm.read_all({**LEADS, "fields": ["Last_Name", "Modified_Time"]})
    values = {"Last_Name": 'Neu, "Quoted"\nName', "Company": "Ächt AG"}
    created = _admin(sim, "POST", "/records/us-enterprise/crm/Leads", json={"values": values})
    assert created.status_code == 201
    new_id = created.json()["id"]
    target = before[5]["id"]
    sim.state.clock.advance(5)
    updated = _admin(sim, "PATCH", f"/records/us-enterprise/crm/Leads/{target}",
                     json={"values": {"Last_Name": "Changed"}})  # fmt: skip
    assert updated.status_code == 200
    gone = before[7]["id"]
    assert _admin(sim, "DELETE", f"/records/us-enterprise/crm/Leads/{gone}").status_code == 200
    after = {r["id"]: r for r in crm.read_all({**LEADS, "fields": ["Last_Name", "Modified_Time"]})}
    assert len(after) == 50
    assert gone not in after
    assert after[new_id]["Last_Name"] == 'Neu, "Quoted"\nName'
    assert after[target]["Last_Name"] == "Changed"
    assert after[target]["Modified_Time"] > "2026"
    assert list(after)[-1] == new_id
    record = _admin(sim, "GET", f"/records/us-enterprise/crm/Leads/{new_id}").json()["record"]
    assert record["Company"] == "Ächt AG"
    assert record["Owner"] == "4876876000000327001"


def test_record_admin_errors(sim: SimServer) -> None:
    missing = _admin(sim, "PATCH", "/records/us-enterprise/crm/Leads/1", json={"values": {}})
    assert missing.status_code == 404
    unknown_field = _admin(sim, "POST", "/records/us-enterprise/crm/Leads",
                           json={"values": {"Nope": "x"}})  # fmt: skip
    assert unknown_field.status_code == 400
    assert _admin(sim, "GET", "/records/us-enterprise/crm/Nope/1").status_code == 404
    assert _admin(sim, "DELETE", "/records/nobody/crm/Leads/1").status_code == 404


def test_schema_drift_over_http(sim: SimServer, crm: ZohoCaller) -> None:
    url = "/schema/us-enterprise/crm/Leads"
    added = _admin(sim, "POST", url, json={"action": "add", "field": "Loyalty_Tier",
                                           "data_type": "picklist"})  # fmt: skip
    assert "Loyalty_Tier" in added.json()["fields"]
    _admin(sim, "POST", url, json={"action": "remove", "field": "Fax_Number"})
    assert _admin(sim, "POST", url, json={"action": "remove", "field": "Rating"}).status_code == 200
    _admin(sim, "POST", url, json={"action": "change_type", "field": "Zip_Code",
                                   "data_type": "integer"})  # fmt: skip
    meta = crm.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Leads"}).json()
    types = {f["api_name"]: f["data_type"] for f in meta["fields"]}
    assert types["Loyalty_Tier"] == "picklist"
    assert "Rating" not in types
    assert types["Zip_Code"] == "integer"
    rows = crm.read_all(LEADS)
    assert "Loyalty_Tier" in rows[0]
    assert "Rating" not in rows[0]
    assert all(r["Zip_Code"] == "" or r["Zip_Code"].isdigit() for r in rows)
    assert {r["Loyalty_Tier"] for r in rows} >= {"Alpha", "Beta"}
    refused = crm.create({**LEADS, "fields": ["Rating"]})
    assert refused.json()["code"] == "INVALID_DATA"
    bad = _admin(sim, "POST", url, json={"action": "rename", "field": "Zip_Code"})
    assert bad.status_code == 400
    assert _admin(sim, "POST", url, json={"action": "add", "field": "Email"}).status_code == 400


def test_drift_is_per_org(sim: SimServer) -> None:
    sim.state.add_field("us-enterprise", "crm", "Leads", "Only_Us", "text")
    eu = sim.state.schema("eu-professional", "crm", "Leads")
    assert eu is not None
    assert "Only_Us" not in eu.names
    sim.reset()
    us = sim.state.schema("us-enterprise", "crm", "Leads")
    assert us is not None
    assert "Only_Us" not in us.names


def test_config_over_http(sim: SimServer) -> None:
    config = _admin(sim, "GET", "/config").json()
    assert config["per_page"] == 200_000
    assert config["records"]["Leads"] == 2000
    patched = _admin(sim, "PATCH", "/config", json={
        "per_page": 10, "records": {"Leads": 30}, "job_seconds": [0, 0.1],
        "editions": {"enterprise": {"credits_per_day": 77}}}).json()  # fmt: skip
    assert patched["per_page"] == 10
    assert patched["records"]["Leads"] == 30
    assert patched["records"]["Deals"] == 1000
    assert patched["job_seconds"] == [0.0, 0.1]
    assert sim.state.credits_remaining("us-enterprise") == 77
    assert _admin(sim, "PATCH", "/config", json={"nonsense": 1}).status_code == 400
    assert _admin(sim, "PATCH", "/config", json={"job_seconds": 3}).status_code == 400
    assert _admin(sim, "PATCH", "/config", json={"records": [1]}).status_code == 400


def test_clock_reset_orgs_stats_jobs_over_http(sim: SimServer, crm: ZohoCaller) -> None:
    before = _admin(sim, "GET", "/clock").json()["now"]
    after = _admin(sim, "POST", "/clock/advance", json={"seconds": 3600}).json()["now"]
    assert after - before >= 3600
    assert _admin(sim, "POST", "/clock/advance", json={"seconds": -1}).status_code == 400
    orgs = {o["key"]: o for o in _admin(sim, "GET", "/orgs").json()["orgs"]}
    assert set(orgs) == {"us-enterprise", "eu-professional", "in-free"}
    assert orgs["eu-professional"]["dc"] == "eu"
    crm.token = crm.refresh()
    job_id = crm.create_ok(LEADS)
    crm.wait(job_id)
    jobs = _admin(sim, "GET", "/jobs").json()["jobs"]
    assert [j["id"] for j in jobs] == [job_id]
    assert jobs[0]["state"] == "COMPLETED"
    assert jobs[0]["completed_at"] >= jobs[0]["created_at"] > after - 1
    assert _admin(sim, "GET", "/stats").json()["total_jobs"] == 1
    assert _admin(sim, "POST", "/reset").json() == {"status": "reset"}
    assert _admin(sim, "GET", "/stats").json()["total_jobs"] == 0
    assert sim.state.clock.offset == 0
