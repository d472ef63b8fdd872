from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests

from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller

LEADS: dict[str, Any] = {"module": {"api_name": "Leads"}}


def test_create_answer_is_wrapped_and_201(crm: ZohoCaller) -> None:
    response = crm.create({**LEADS, "fields": ["Last_Name"]})
    assert response.status_code == 201
    body = response.json()
    assert body["info"] == {}
    item = body["data"][0]
    assert (item["status"], item["code"], item["message"]) == (
        "success",
        "ADDED_SUCCESSFULLY",
        "Added successfully.",
    )
    details = item["details"]
    assert details["operation"] == "read"
    assert details["state"] == "ADDED"
    assert len(details["id"]) == 19
    assert details["created_by"] == {"id": "4876876000000327001", "name": "Patricia Boyle"}
    assert details["created_time"].endswith("-07:00")


def test_lifecycle_passes_through_every_state(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("slow_job", seconds=100)
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    sim.state.wait_jobs()
    details = [crm.details(job_id)]
    for step in (20, 20, 20, 45):
        sim.state.clock.advance(step)
        details.append(crm.details(job_id))
    states = [d["state"] for d in details]
    assert states == ["ADDED", "QUEUED", "IN PROGRESS", "IN PROGRESS", "COMPLETED"]
    assert ["result" in d for d in details] == [False, False, False, False, True]


def test_no_result_before_completion(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("slow_job", seconds=100)
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    detail = crm.details(job_id)
    assert "result" not in detail
    early = crm.download(job_id)
    assert early.status_code == 404
    assert early.json()["code"] == "RESOURCE_NOT_FOUND"


def test_completed_details_and_csv(sim: SimServer, crm: ZohoCaller) -> None:
    fields = ["Last_Name", "Email", "Owner", "Owner.last_name", "Modified_Time", "Description"]
    job_id = crm.create_ok({**LEADS, "fields": fields})
    detail = crm.wait(job_id)
    assert detail["state"] == "COMPLETED"
    assert detail["query"]["module"] == {"id": "4876876000000002177", "api_name": "Leads"}
    assert detail["query"]["fields"] == fields
    assert detail["file_type"] == "csv"
    result = detail["result"]
    assert result == {
        "page": 1,
        "per_page": 200_000,
        "count": 2000,
        "download_url": f"/crm/bulk/v8/read/{job_id}/result",
        "more_records": False,
    }
    response = crm.download(job_id)
    assert response.headers["content-type"] == "application/x-download"
    assert f'filename="{job_id}.zip"' in response.headers["content-disposition"]
    rows = crm.rows(job_id)
    assert len(rows) == 2000
    assert list(rows[0]) == ["id", *fields]
    assert all(len(r["id"]) == 19 and r["id"].isdigit() for r in rows)
    owners = {u.id: u.last_name for u in sim.state.store("us-enterprise", "crm", "Leads").users}  # type: ignore[union-attr]
    assert all(owners[r["Owner"]] == r["Owner.last_name"] for r in rows)
    descriptions = {r["Description"] for r in rows}
    assert any("\n" in d and "," in d for d in descriptions)
    assert any('"' in d for d in descriptions)
    assert "" in descriptions


def test_all_fields_when_fields_left_out(crm: ZohoCaller, sim: SimServer) -> None:
    rows = crm.read_all({"module": {"api_name": "Accounts"}})
    schema = sim.state.schema("us-enterprise", "crm", "Accounts")
    assert schema is not None
    # every field bulk read can export: all but the external ones
    assert list(rows[0]) == ["id", *schema.bulk_names]
    assert set(schema.names) - set(schema.bulk_names) == {"External_Account_Id"}
    assert len(rows) == 300


def test_more_than_200_fields_exports_all(crm: ZohoCaller, sim: SimServer) -> None:
    many = ["Last_Name"] + [f"Not_A_Field_{i}" for i in range(200)]
    rows = crm.read_all({**LEADS, "fields": many})
    schema = sim.state.schema("us-enterprise", "crm", "Leads")
    assert schema is not None
    assert list(rows[0]) == ["id", *schema.names]


def test_id_keeps_its_requested_position(crm: ZohoCaller) -> None:
    rows = crm.read_all({**LEADS, "fields": ["Last_Name", "id"]})
    assert list(rows[0]) == ["Last_Name", "id"]


def test_dotted_lookup_fields_resolve(crm: ZohoCaller) -> None:
    contacts = crm.read_all(
        {"module": {"api_name": "Contacts"},
         "fields": ["Account_Name", "Account_Name.Account_Name", "Account_Name.Phone"]}
    )  # fmt: skip
    accounts = crm.read_all(
        {"module": {"api_name": "Accounts"}, "fields": ["Account_Name", "Phone"]}
    )
    by_id = {a["id"]: a for a in accounts}
    linked = [c for c in contacts if c["Account_Name"]]
    assert 0 < len(linked) < len(contacts)  # some lookups are empty
    for c in linked:
        assert c["Account_Name.Account_Name"] == by_id[c["Account_Name"]]["Account_Name"]
        assert c["Account_Name.Phone"] == by_id[c["Account_Name"]]["Phone"]
    assert all(c["Account_Name.Account_Name"] == "" for c in contacts if not c["Account_Name"])


def test_value_formats(crm: ZohoCaller) -> None:
    rows = crm.read_all(
        {**LEADS, "fields": ["Email_Opt_Out", "Product_Interest", "Follow_Up_Date",
                             "Created_Time", "Modified_Time", "Annual_Revenue", "Lead_Score"]}
    )  # fmt: skip
    assert {r["Email_Opt_Out"] for r in rows} == {"true", "false"}
    assert any(";" in r["Product_Interest"] for r in rows)
    dates = [r["Follow_Up_Date"] for r in rows if r["Follow_Up_Date"]]
    assert all(len(d) == 10 and d[4] == "-" for d in dates)
    offsets = {r["Modified_Time"][-6:] for r in rows}
    assert len(offsets) > 3
    assert "+05:30" in offsets
    assert all(r["Annual_Revenue"] == "" or r["Annual_Revenue"].count(".") == 1 for r in rows)
    assert {r["Lead_Score"] for r in rows} - {""} <= {str(i) for i in range(100)}


def test_created_time_is_never_after_modified_time(sim: SimServer) -> None:
    from datetime import datetime

    store = sim.state.store("us-enterprise", "crm", "Leads")
    assert store is not None
    for chunk in store.iter_chunks(["Created_Time", "Modified_Time"]):
        for created, modified in zip(
            chunk["Created_Time"].to_pylist(), chunk["Modified_Time"].to_pylist(), strict=True
        ):
            assert datetime.fromisoformat(created) <= datetime.fromisoformat(modified)


def _csv_bytes(caller: ZohoCaller, query: dict[str, Any]) -> bytes:
    job_id = caller.create_ok(query)
    caller.wait(job_id)
    with zipfile.ZipFile(io.BytesIO(caller.download(job_id).content)) as archive:
        return archive.read(f"{job_id}.csv")


def test_csv_bytes_do_not_depend_on_the_server(crm: ZohoCaller) -> None:
    query = {"module": {"api_name": "Contacts"}}
    first = _csv_bytes(crm, query)
    with SimServer() as other:
        caller = ZohoCaller(other)
        second = _csv_bytes(caller, query)
        caller.close()
    assert first == second
    assert first.count(b"\n") > 1500


def test_orgs_have_their_own_data(sim: SimServer, crm: ZohoCaller) -> None:
    eu = ZohoCaller(sim, "eu-professional")
    eu_rows = eu.read_all({**LEADS, "fields": ["Last_Name"]})
    other = crm.bulk.replace("/us/", "/eu/")
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    cross = eu.get(f"{other}/{job_id}")
    eu.close()
    us_rows = crm.read_all({**LEADS, "fields": ["Last_Name"]})
    assert eu_rows[0]["id"] != us_rows[0]["id"]
    assert cross.status_code == 404


def test_pages_and_page_tokens_walk_everything_once(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(per_page=600)
    seen: list[str] = []
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    pages = []
    while True:
        detail = crm.wait(job_id)
        result = detail["result"]
        pages.append((result["page"], result["count"], result["more_records"]))
        seen += [r["id"] for r in crm.rows(job_id)]
        if not result["more_records"]:
            assert "next_page_token" not in result
            break
        job_id = crm.create_ok({"page_token": result["next_page_token"]})
        assert crm.details(job_id)["query"]["page_token"] == result["next_page_token"]
    assert pages == [(1, 600, True), (2, 600, True), (3, 600, True), (4, 200, False)]
    assert len(seen) == len(set(seen)) == 2000


@pytest.mark.parametrize(
    "criteria",
    [None, {"field": {"api_name": "Email_Opt_Out"}, "comparator": "equal", "value": True}],
)
def test_page_number_selects_the_same_records_as_tokens(
    sim: SimServer, crm: ZohoCaller, criteria: dict[str, Any] | None
) -> None:
    sim.state.configure(
        per_page=200, downloads_per_minute=100, records={**sim.state.config.records, "Leads": 1000}
    )
    query: dict[str, Any] = {**LEADS, "fields": ["Last_Name"]}
    if criteria:
        query["criteria"] = criteria
    by_token: list[list[str]] = []
    job_id = crm.create_ok(query)
    while True:
        result = crm.wait(job_id)["result"]
        by_token.append([r["id"] for r in crm.rows(job_id)])
        if not result["more_records"]:
            break
        job_id = crm.create_ok({"page_token": result["next_page_token"]})
    assert len(by_token) >= 3
    for page in (2, len(by_token)):
        job_id = crm.create_ok({**query, "page": page})
        assert crm.wait(job_id)["result"]["page"] == page
        assert [r["id"] for r in crm.rows(job_id)] == by_token[page - 1]
    beyond = crm.create_ok({**query, "page": len(by_token) + 1})
    result = crm.wait(beyond)["result"]
    assert (result["count"], result["more_records"]) == (0, False)
    assert list(crm.rows(beyond)) == []


def test_page_token_with_criteria_keeps_filtering(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(per_page=100)
    criteria = {"field": {"api_name": "Lead_Source"}, "comparator": "equal", "value": "Web"}
    first = crm.create_ok({**LEADS, "fields": ["Lead_Source"], "criteria": criteria})
    token = crm.wait(first)["result"]["next_page_token"]
    second = crm.create_ok({"page_token": token})
    crm.wait(second)
    rows = crm.rows(second)
    assert rows
    assert {r["Lead_Source"] for r in rows} == {"Web"}
    assert crm.details(second)["result"]["page"] == 2


def test_page_token_expires_after_24_hours(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(per_page=500)
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    token = crm.wait(job_id)["result"]["next_page_token"]
    sim.state.clock.advance(86_400 + 5)
    crm.token = crm.refresh()
    response = crm.create({"page_token": token})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_DATA"
    assert response.json()["details"]["api_name"] == "page_token"


def test_unknown_page_token_and_other_orgs_token(sim: SimServer, crm: ZohoCaller) -> None:
    assert crm.create({"page_token": "nope"}).json()["code"] == "INVALID_DATA"
    sim.state.configure(per_page=500)
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    token = crm.wait(job_id)["result"]["next_page_token"]
    eu = ZohoCaller(sim, "eu-professional")
    assert eu.create({"page_token": token}).json()["code"] == "INVALID_DATA"
    eu.close()


def test_result_expires_after_a_day(sim: SimServer, crm: ZohoCaller) -> None:
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    crm.wait(job_id)
    assert crm.download(job_id).status_code == 200
    sim.state.clock.advance(86_400 + 60)
    crm.token = crm.refresh()
    response = crm.download(job_id)
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "code": "RESOURCE_NOT_FOUND",
        "message": "The requested resource doesn't exist.",
        "details": {"resource": job_id},
    }


def test_ten_downloads_per_minute_then_429(sim: SimServer, crm: ZohoCaller) -> None:
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    crm.wait(job_id)
    for _ in range(10):
        assert crm.download(job_id).status_code == 200
    refused = crm.download(job_id)
    assert refused.status_code == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    sim.state.clock.advance(61)
    assert crm.download(job_id).status_code == 200
    assert sim.state.stats.snapshot()["downloads"][job_id] == 12


def test_unknown_job_is_404(crm: ZohoCaller) -> None:
    response = crm.get(f"{crm.bulk}/5725767000006841003")
    assert response.status_code == 404
    assert response.json()["details"] == {"resource": "5725767000006841003"}
    assert crm.download("5725767000006841003").status_code == 404


def test_failure_job(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("job_failure")
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    detail = crm.wait(job_id)
    assert detail["state"] == "FAILURE"
    assert detail["result"]["error_message"]["code"] == "INTERNAL_SERVER_ERROR"
    assert crm.download(job_id).status_code == 404
    healthy = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    assert crm.wait(healthy)["state"] == "COMPLETED"


def test_processing_time_is_configurable(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(job_seconds=(0.6, 0.6))
    started = time.monotonic()
    crm.wait(crm.create_ok({**LEADS, "fields": ["Last_Name"]}))
    assert time.monotonic() - started >= 0.6


def test_stats_count_jobs_and_polls(sim: SimServer, crm: ZohoCaller) -> None:
    job_id = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    crm.wait(job_id)
    crm.details(job_id)
    stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()
    assert stats["jobs_created"] == {"us-enterprise/crm/Leads": 1}
    assert stats["polls"][job_id] >= 2
    assert stats["calls"]["POST /{dc}/api/crm/bulk/v8/read"] == 1
    assert stats["credits_used"]["us-enterprise"] == 50 + stats["polls"][job_id]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"query": {"fields": ["Last_Name"]}}, 400, "MANDATORY_NOT_FOUND"),
        ({}, 400, "MANDATORY_NOT_FOUND"),
        ([1, 2], 400, "REQUEST_BODY_NOT_SUPPORTED"),
        ({"query": {"module": {"api_name": "Nope"}}}, 400, "MODULE_NOT_AVAILABLE"),
        ({"query": {"module": {"api_name": "Notes"}}}, 400, "MODULE_NOT_SUPPORTED"),
        ({"query": {**LEADS, "cvid": "123"}}, 400, "CVID_NOT_SUPPORTED"),
        ({"query": {**LEADS, "fields": ["Nope"]}}, 400, "INVALID_DATA"),
        ({"query": {**LEADS, "fields": "Last_Name"}}, 400, "INVALID_DATA"),
        ({"query": {**LEADS, "page": 0}}, 400, "INVALID_DATA"),
        ({"query": {**LEADS, "page": "2"}}, 400, "INVALID_DATA"),
        ({"query": {**LEADS, "page": 501}}, 400, "PAGE_RANGE_EXCEEDED"),
        ({"query": LEADS, "file_type": "ics"}, 400, "INVALID_DATA"),
        ({"query": LEADS, "callback": {"url": "ftp://x"}}, 400, "INVALID_CALLBACK_URL"),
        (
            {"query": LEADS, "callback": {"url": "https://x.example", "method": "get"}},
            400,
            "INVALID_CALLBACK_METHOD",
        ),
    ],
)
def test_create_errors(crm: ZohoCaller, body: Any, status: int, code: str) -> None:
    response = crm.post(crm.bulk, json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["status"] == "error"
    assert error["code"] == code
    assert isinstance(error["details"], dict)


def test_page_range_error_names_the_limit(crm: ZohoCaller) -> None:
    response = crm.create({**LEADS, "page": 501})
    assert response.json()["details"] == {"max_limit": 500}


def test_body_format_errors(crm: ZohoCaller) -> None:
    not_json = crm.post(crm.bulk, data=b"{", headers={"Content-Type": "application/json"})
    assert not_json.json()["code"] == "REQUEST_BODY_NOT_SUPPORTED"
    empty = crm.post(crm.bulk, data=b"", headers={"Content-Type": "application/json"})
    assert empty.json()["code"] == "REQUEST_BODY_IS_EMPTY"
    text = crm.post(crm.bulk, data=b"query", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    assert text.json()["code"] == "MEDIA_TYPE_NOT_SUPPORTED"


def test_create_accepts_a_post_callback(crm: ZohoCaller) -> None:
    response = crm.create(LEADS, callback={"url": "https://etl.example/cb", "method": "post"})
    assert response.status_code == 201


def test_page_token_pages_keep_all_columns_when_fields_are_left_out(
    sim: SimServer, crm: ZohoCaller
) -> None:
    sim.state.configure(per_page=1500)
    first = crm.create_ok(LEADS)
    token = crm.wait(first)["result"]["next_page_token"]
    second = crm.create_ok({"page_token": token})
    crm.wait(second)
    assert list(crm.rows(first)[0]) == list(crm.rows(second)[0])
    assert "fields" not in crm.details(second)["query"]


# -- Recruit ------------------------------------------------------------------------------


def test_recruit_lifecycle_with_plain_string_module(recruit: ZohoCaller) -> None:
    assert recruit.bulk.endswith("/us/recruit/recruit/bulk/v2/read")
    job_id = recruit.create_ok({"module": "Candidates", "fields": ["Last_Name", "Email"]})
    detail = recruit.wait(job_id)
    assert detail["query"]["module"] == "Candidates"
    assert detail["result"]["download_url"] == f"/recruit/bulk/v2/read/{job_id}/result"
    rows = recruit.rows(job_id)
    assert len(rows) == 1000
    assert list(rows[0]) == ["id", "Last_Name", "Email"]


def test_recruit_accepts_the_object_module_form(recruit: ZohoCaller) -> None:
    rows = recruit.read_all({"module": {"api_name": "Job_Openings"}})
    assert len(rows) == 100


def test_recruit_interviews_resolve_their_lookups(recruit: ZohoCaller) -> None:
    interviews = recruit.read_all(
        {"module": "Interviews",
         "fields": ["Candidate_Name", "Candidate_Name.Last_Name", "Job_Opening_Name.Posting_Title"],
         "criteria": {"api_name": "Type", "comparator": "equal", "value": "Panel"}}
    )  # fmt: skip
    candidates = {r["id"]: r for r in recruit.read_all({"module": "Candidates"})}
    assert interviews
    for row in interviews:
        assert row["Candidate_Name.Last_Name"] == candidates[row["Candidate_Name"]]["Last_Name"]
    assert any(r["Job_Opening_Name.Posting_Title"] for r in interviews)


def test_recruit_pages_up_to_500_without_page_tokens(sim: SimServer, recruit: ZohoCaller) -> None:
    sim.state.configure(per_page=400)
    job_id = recruit.create_ok({"module": "Candidates", "fields": ["Last_Name"]})
    result = recruit.wait(job_id)["result"]
    assert result["more_records"] is True
    assert "next_page_token" not in result
    last = recruit.read_all({"module": "Candidates", "fields": ["Last_Name"], "page": 3})
    assert len(last) == 200
    assert recruit.create({"module": "Candidates", "page": 501}).json()["code"] == (
        "PAGE_RANGE_EXCEEDED"
    )
    refused = recruit.create({"page_token": "abc"})
    assert refused.status_code == 400
    assert refused.json()["details"]["api_name"] == "page_token"


def test_recruit_and_crm_modules_do_not_mix(recruit: ZohoCaller, crm: ZohoCaller) -> None:
    assert recruit.create({"module": "Leads"}).json()["code"] == "MODULE_NOT_AVAILABLE"
    job_id = crm.create_ok(LEADS)
    assert recruit.get(f"{recruit.bulk}/{job_id}").status_code == 404


def test_recruit_fields_metadata_path(recruit: ZohoCaller) -> None:
    response = recruit.get(
        f"{recruit.host}/recruit/v2/settings/fields", params={"module": "Interviews"}
    )
    assert response.status_code == 200
    names = [f["api_name"] for f in response.json()["fields"]]
    assert "Candidate_Name" in names


def test_callback_posts_the_job_details(sim: SimServer, crm: ZohoCaller) -> None:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    with HTTPServer(("127.0.0.1", 0), Receiver) as receiver:
        thread = threading.Thread(target=receiver.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
        sim.state.add_fault("job_failure", path="/crm/Deals")
        ok = crm.create(LEADS, callback={"url": url, "method": "post"}).json()
        bad = crm.create({"module": {"api_name": "Deals"}}, callback={"url": url})
        ids = {ok["data"][0]["details"]["id"], bad.json()["data"][0]["details"]["id"]}
        deadline = time.monotonic() + 120  # a generous wait, not a timing assert

        def delivered() -> bool:  # the simulator counts a callback once its POST has returned
            return len(received) >= 2 and len(sim.state.stats.snapshot()["callbacks"]) >= 2

        while not delivered() and time.monotonic() < deadline:
            time.sleep(0.05)
        receiver.shutdown()
        thread.join()
    states = {body["data"][0]["id"]: body["data"][0]["state"] for body in received}
    assert set(states) == ids
    assert sorted(states.values()) == ["COMPLETED", "FAILURE"]
    assert len(sim.state.stats.snapshot()["callbacks"]) == 2


def test_page_tokens_survive_a_simulator_restart(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(per_page=1200)
    first = crm.create_ok({**LEADS, "fields": ["Last_Name"]})
    token = crm.wait(first)["result"]["next_page_token"]
    expected = [r["id"] for r in crm.read_all({"page_token": token})]
    with SimServer(sim.state.config) as restarted:
        caller = ZohoCaller(restarted)
        assert [r["id"] for r in caller.read_all({"page_token": token})] == expected
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert caller.create({"page_token": tampered}).json()["code"] == "INVALID_DATA"
        caller.close()
    assert len(expected) == 800


def test_external_fields_are_listed_but_not_exported(crm: ZohoCaller) -> None:
    """Bulk read does not support external fields (facts file §1.1): refused when named,
    left out when every field is exported."""
    meta = crm.get(f"{crm.host}/crm/v8/settings/fields", params={"module": "Accounts"}).json()
    by_name = {f["api_name"]: f for f in meta["fields"]}
    assert by_name["External_Account_Id"]["external"]
    assert not by_name["Account_Name"]["external"]
    named = crm.create({"module": {"api_name": "Accounts"}, "fields": ["External_Account_Id"]})
    assert named.status_code == 400, named.text
    assert named.json()["code"] == "INVALID_DATA"
    assert named.json()["details"]["api_name"] == "External_Account_Id"
    rows = crm.read_all({"module": {"api_name": "Accounts"}})
    assert "Account_Name" in rows[0]
    assert "External_Account_Id" not in rows[0]
