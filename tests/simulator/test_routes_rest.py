from __future__ import annotations

from datetime import datetime

from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller


def _records(crm: ZohoCaller, module: str, **params: object) -> dict:  # type: ignore[type-arg]
    response = crm.get(f"{crm.api}/crm/v8/{module}", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_get_records_types_values_like_zoho(crm: ZohoCaller) -> None:
    body = _records(
        crm, "Deals",
        fields="Deal_Name,Account_Name,Owner,Amount,Competitors,Is_Renewal,Quantity,Closing_Date",
        per_page=50,
    )  # fmt: skip
    assert body["info"]["count"] == 50
    assert body["info"]["more_records"] is True
    assert body["info"]["per_page"] == 50
    first = body["data"][0]
    assert set(first) == {"id", "Deal_Name", "Account_Name", "Owner", "Amount", "Competitors",
                          "Is_Renewal", "Quantity", "Closing_Date"}  # fmt: skip
    assert set(first["Owner"]) == {"name", "id", "email"}
    assert isinstance(first["Is_Renewal"], bool)
    assert isinstance(first["Competitors"], list)
    linked = [d for d in body["data"] if d["Account_Name"]]
    assert linked
    assert all(set(d["Account_Name"]) == {"name", "id"} and d["Account_Name"]["name"]
               for d in linked)  # fmt: skip
    amounts = [d["Amount"] for d in body["data"] if d["Amount"] is not None]
    assert all(isinstance(a, float) for a in amounts)


def test_records_match_the_bulk_export(crm: ZohoCaller) -> None:
    rest = _records(crm, "Leads", fields="Last_Name,Email", per_page=200)["data"]
    bulk = crm.read_all({"module": {"api_name": "Leads"}, "fields": ["Last_Name", "Email"]})
    assert [(r["id"], r["Last_Name"], r["Email"] or None) for r in rest] == [
        (b["id"], b["Last_Name"], b["Email"] or None) for b in bulk[:200]
    ]


def test_pages_then_page_token_past_2000(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(records={**sim.state.config.records, "Leads": 2300})
    ids: list[str] = []
    for page in range(1, 11):
        body = _records(crm, "Leads", fields="Last_Name", page=page, per_page=200)
        ids += [d["id"] for d in body["data"]]
    assert body["info"]["more_records"] is True
    refused = crm.get(f"{crm.api}/crm/v8/Leads", params={"fields": "Last_Name", "page": 11})
    assert refused.status_code == 400
    assert refused.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    token = body["info"]["next_page_token"]
    while token:
        body = _records(crm, "Leads", page_token=token)
        ids += [d["id"] for d in body["data"]]
        token = body["info"]["next_page_token"]
    assert len(ids) == len(set(ids)) == 2300
    assert body["info"]["page"] == 12


def test_per_page_is_capped_at_200(crm: ZohoCaller) -> None:
    body = _records(crm, "Accounts", fields="Account_Name", per_page=500)
    assert body["info"]["per_page"] == 200
    assert len(body["data"]) == 200


def test_if_modified_since_and_304(sim: SimServer, crm: ZohoCaller) -> None:
    since = "2025-10-01T00:00:00+00:00"
    body = _records(crm, "Accounts", fields="Modified_Time", per_page=200)
    everything = body["data"] + _records(crm, "Accounts", fields="Modified_Time", page=2)["data"]
    cut = datetime.fromisoformat(since)
    expected = [a["id"] for a in everything if datetime.fromisoformat(a["Modified_Time"]) >= cut]
    response = crm.get(
        f"{crm.api}/crm/v8/Accounts",
        params={"fields": "Account_Name"},
        headers={"If-Modified-Since": since},
    )
    assert [d["id"] for d in response.json()["data"]] == expected
    assert 0 < len(expected) < 300
    nothing = crm.get(
        f"{crm.api}/crm/v8/Accounts",
        params={"fields": "Account_Name"},
        headers={"If-Modified-Since": "2030-01-01T00:00:00+00:00"},
    )
    assert nothing.status_code == 304
    record_id = everything[0]["id"]
    sim.state.clock.advance(10)
    sim.state.update_record("us-enterprise", "crm", "Accounts", record_id, {"Phone": "+1 555-0000"})
    changed = crm.get(
        f"{crm.api}/crm/v8/Accounts",
        params={"fields": "Phone"},
        headers={"If-Modified-Since": "2030-01-01T00:00:00+00:00"},
    )
    assert nothing.status_code == 304
    assert changed.status_code == 304  # the sim clock is still before 2030
    recent = crm.get(
        f"{crm.api}/crm/v8/Accounts",
        params={"fields": "Phone"},
        headers={"If-Modified-Since": "2026-01-02T00:00:00+00:00"},
    )
    assert [d["id"] for d in recent.json()["data"]] == [record_id]
    assert recent.json()["data"][0]["Phone"] == "+1 555-0000"


def test_no_records_is_204(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(records={**sim.state.config.records, "Deals": 0})
    response = crm.get(f"{crm.api}/crm/v8/Deals", params={"fields": "Deal_Name"})
    assert response.status_code == 204


def test_rest_errors(crm: ZohoCaller) -> None:
    url = f"{crm.api}/crm/v8"
    assert crm.get(f"{url}/Leads").json()["code"] == "REQUIRED_PARAM_MISSING"
    assert crm.get(f"{url}/Nope", params={"fields": "x"}).json()["code"] == "INVALID_MODULE"
    assert crm.get(f"{url}/Leads", params={"fields": "Nope"}).json()["code"] == "INVALID_DATA"
    assert crm.get(f"{url}/Leads", params={"fields": "Email", "page": "x"}).status_code == 400
    assert crm.get(f"{url}/Leads", params={"fields": "Email", "page": 0}).status_code == 400
    bad = crm.get(f"{url}/Leads", params={"page_token": "nope"})
    assert bad.json()["details"] == {"param_name": "page_token"}
    bad_since = crm.get(
        f"{url}/Leads", params={"fields": "Email"}, headers={"If-Modified-Since": "yesterday"}
    )
    assert bad_since.status_code == 400


def test_rest_page_token_expires(sim: SimServer, crm: ZohoCaller) -> None:
    token = _records(crm, "Leads", fields="Email", per_page=10)["info"]["next_page_token"]
    sim.state.clock.advance(86_401)
    crm.token = crm.refresh()
    response = crm.get(f"{crm.api}/crm/v8/Leads", params={"page_token": token})
    assert response.status_code == 400


def test_deleted_records(sim: SimServer, crm: ZohoCaller) -> None:
    url = f"{crm.api}/crm/v8/Contacts/deleted"
    assert crm.get(url).status_code == 204
    ids = [d["id"] for d in _records(crm, "Contacts", fields="Last_Name", per_page=3)["data"]]
    for record_id in ids:
        sim.state.delete_record("us-enterprise", "crm", "Contacts", record_id)
        sim.state.clock.advance(1)
    body = crm.get(url, params={"type": "all"}).json()
    assert [d["id"] for d in body["data"]] == ids
    first = body["data"][0]
    assert first["type"] == "recycle"
    assert first["deleted_by"]["name"] == "Patricia Boyle"
    assert first["display_name"]
    assert body["info"]["count"] == 3
    later = crm.get(url, headers={"If-Modified-Since": first["deleted_time"]}).json()
    assert len(later["data"]) == 3
    assert crm.get(url, params={"type": "permanent"}).status_code == 204
    assert crm.get(url, params={"type": "odd"}).status_code == 400
    paged = crm.get(url, params={"per_page": 2, "page": 2}).json()
    assert [d["id"] for d in paged["data"]] == ids[2:]
    remaining = _records(crm, "Contacts", fields="Last_Name", per_page=3)["data"]
    assert not {d["id"] for d in remaining} & set(ids)


def test_single_record(sim: SimServer, crm: ZohoCaller) -> None:
    record_id = _records(crm, "Deals", fields="Deal_Name", per_page=1)["data"][0]["id"]
    body = crm.get(f"{crm.api}/crm/v8/Deals/{record_id}").json()
    assert body["data"][0]["id"] == record_id
    assert "Stage" in body["data"][0]
    sim.state.delete_record("us-enterprise", "crm", "Deals", record_id)
    assert crm.get(f"{crm.api}/crm/v8/Deals/{record_id}").status_code == 204


def test_rest_call_costs_one_credit(sim: SimServer, crm: ZohoCaller) -> None:
    response = crm.get(f"{crm.api}/crm/v8/Leads", params={"fields": "Email", "per_page": 5})
    assert response.headers["X-API-CREDITS-REMAINING"] == str(250_000 - 1)


def test_more_than_50_fields_is_refused(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_field("us-enterprise", "crm", "Leads", "Extra_1", "text")
    schema = sim.state.schema("us-enterprise", "crm", "Leads")
    assert schema is not None
    sim.state.configure(rest_max_fields=20)
    response = crm.get(f"{crm.api}/crm/v8/Leads", params={"fields": ",".join(schema.names[:21])})
    assert response.status_code == 400
    assert response.json()["code"] == "LIMIT_EXCEEDED"
    assert response.json()["details"]["limit"] == 20
    allowed = crm.get(f"{crm.api}/crm/v8/Leads", params={"fields": ",".join(schema.names[:20])})
    assert allowed.status_code == 200


def test_recruit_get_records_and_deleted(sim: SimServer, recruit: ZohoCaller) -> None:
    url = f"{recruit.host}/recruit/v2/Candidates"
    first = recruit.get(url, params={"per_page": 200, "page": 5})
    assert first.status_code == 200
    body = first.json()
    assert body["info"] == {"per_page": 200, "count": 200, "page": 5, "more_records": False}
    record = body["data"][0]
    assert set(record["Candidate_Owner"]) == {"name", "id", "email"}
    assert isinstance(record["Skill_Set"], list)
    assert first.headers["X-API-CREDITS-REMAINING"] == str(250_000 - 3)
    assert recruit.get(url, params={"page_token": "x"}).status_code == 400
    interviews = recruit.get(
        f"{recruit.host}/recruit/v2/Interviews", params={"fields": "Candidate_Name", "per_page": 5}
    ).json()["data"]
    assert all(set(i["Candidate_Name"]) == {"name", "id"} for i in interviews)
    gone = record["id"]
    sim.state.delete_record("us-enterprise", "recruit", "Candidates", gone)
    deleted = recruit.get(f"{url}/deleted").json()["data"]
    assert [d["id"] for d in deleted] == [gone]
    assert recruit.get(f"{url}/{gone}").status_code == 204
    other = body["data"][1]["id"]
    assert recruit.get(f"{url}/{other}").json()["data"][0]["id"] == other
