"""Bulk write jobs in the simulator over real HTTP: create, status, result, record changes."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from typing import Any

import pytest
import requests

from simulator.testing import SimServer
from simulator.write_processing import block_record, wait_write_jobs
from tests.simulator.conftest import ZohoCaller


def make_zip(rows: list[list[str]], name: str = "Leads.csv", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr(name, out.getvalue())
    return sink.getvalue()


class Writer:
    def __init__(self, caller: ZohoCaller) -> None:
        self.c = caller
        dc = caller.org.dc
        if caller.product == "crm":
            self.upload_url = f"{caller.sim.base_url}/{dc}/content/crm/v8/upload"
            self.write_url = f"{caller.api}/crm/bulk/v8/write"
            self.org_header = "X-CRM-ORG"
        else:
            self.upload_url = f"{caller.sim.base_url}/{dc}/upload/recruit/v2/upload"
            self.write_url = f"{caller.host}/recruit/bulk/v2/write"
            self.org_header = "X-RECRUIT-ORG"

    def upload(self, data: bytes) -> str:
        response = self.c.session.post(
            self.upload_url,
            headers={**self.c.headers, "feature": "bulk-write", self.org_header: self.c.org.zgid},
            files={"file": ("x.zip", data)},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["details"]["file_id"])

    def module_ref(self, module: str) -> Any:
        """CRM v8 names a module as an object, Recruit v2 as a string."""
        return {"api_name": module} if self.c.product == "crm" else module

    def create(self, body: dict[str, Any]) -> requests.Response:
        return self.c.post(self.write_url, json=body)

    def job(
        self,
        rows: list[list[str]],
        module: str = "Leads",
        operation: str = "insert",
        mappings: list[dict[str, Any]] | None = None,
        **resource: Any,
    ) -> str:
        file_id = self.upload(make_zip(rows))
        res: dict[str, Any] = {
            "type": "data",
            "module": self.module_ref(module),
            "file_id": file_id,
        }
        if mappings is not None:
            res["field_mappings"] = mappings
        ignore_empty = resource.pop("ignore_empty", None)
        res.update(resource)
        body: dict[str, Any] = {"operation": operation, "resource": [res]}
        if ignore_empty is not None and self.c.product == "crm":
            body["ignore_empty"] = ignore_empty  # CRM v8: top level
        elif ignore_empty is not None:
            res["ignore_empty"] = ignore_empty  # Recruit v2: on the resource
        response = self.create(body)
        assert response.status_code == 201, response.text
        return str(response.json()["details"]["id"])

    def details(self, job_id: str) -> dict[str, Any]:
        response = self.c.get(f"{self.write_url}/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 120  # a generous wait, not a timing assert
        while True:
            detail = self.details(job_id)
            if detail["status"] in ("COMPLETED", "FAILED"):
                return detail
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def results(self, job_id: str) -> list[dict[str, str]]:
        detail = self.wait(job_id)
        assert detail["status"] == "COMPLETED", detail
        response = self.c.get(detail["result"]["download_url"])
        assert response.status_code == 200, response.text
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            (name,) = archive.namelist()
            text = archive.read(name).decode()
        return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def w(crm: ZohoCaller) -> Writer:
    return Writer(crm)


LEAD_HEADER = ["Last_Name", "Company", "Email", "Lead_Status", "Product_Interest", "Email_Opt_Out"]


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


def test_every_documented_row_error(sim: SimServer, w: Writer) -> None:
    existing = sim.state.insert_record(
        "us-enterprise", "crm", "Leads", {"Last_Name": "Old", "Company": "X", "Email": "taken@x.io"}
    )
    blocked = sim.state.insert_record(
        "us-enterprise", "crm", "Leads", {"Last_Name": "B", "Company": "X", "Email": "b@x.io"}
    )
    block_record(sim.state, "us-enterprise", "crm", "Leads", blocked, "BLOCKED_RECORD")
    rows = [
        ["Last_Name", "Company", "Email", "No_of_Employees", "Follow_Up_Date"],
        ["", "", "ok1@x.io", "1", "2025-01-02"],
        ["A", "C", "not-mail", "12x", "31/12/2025"],
        ["A", "C", "TAKEN@x.io", "1234567890", ""],
        ["A", "C", "ok2@x.io", "5"],
        ["X" * 256, "C", "ok3@x.io", "", ""],
        ["A", "C", "ok4@x.io", "", "2025-02-03"],
        ["A", "C", "ok4@x.io", "", ""],
    ]
    mappings = [
        {"api_name": "Last_Name", "index": 0},
        {"api_name": "Company", "index": 1},
        {"api_name": "Email", "index": 2},
        {"api_name": "No_of_Employees", "index": 3},
        {"api_name": "Follow_Up_Date", "index": 4, "format": "yyyy-MM-dd"},
    ]
    results = w.results(w.job(rows, mappings=mappings))
    got = [(r["STATUS"], r["ERRORS"]) for r in results]
    assert got == [
        ("UNPROCESSED", "MANDATORY_NOT_FOUND-Last_Name,Company"),
        ("UNPROCESSED", "INVALID_DATA-Email,No_of_Employees,Follow_Up_Date"),
        ("UNPROCESSED", "LIMIT_EXCEEDED-No_of_Employees:DUPLICATE_DATA-Email"),
        ("UNPROCESSED", "CANNOT_PROCESS"),
        ("UNPROCESSED", "LIMIT_EXCEEDED-Last_Name"),
        ("ADDED", ""),
        ("UNPROCESSED", "DUPLICATE_DATA-Email"),
    ]
    update_rows = [["Email", "Company"], ["nobody@x.io", "Z"], ["b@x.io", "Z"], ["taken@x.io", "Z"]]
    update = w.results(w.job(update_rows, operation="update", find_by="Email"))
    assert [(r["STATUS"], r["ERRORS"]) for r in update] == [
        ("UNPROCESSED", "RESOURCE_NOT_FOUND-Email"),
        ("UNPROCESSED", "BLOCKED_RECORD-Email"),
        ("UPDATED", ""),
    ]
    assert update[2]["RECORD_ID"] == existing
    block_record(sim.state, "us-enterprise", "crm", "Leads", existing, "NOT_APPROVED")
    again = w.results(w.job(update_rows[:1] + update_rows[3:], operation="update", find_by="Email"))
    assert again[0]["ERRORS"] == "NOT_APPROVED-Email"


def test_update_upsert_skip_and_ignore_empty(sim: SimServer, w: Writer) -> None:
    rid = sim.state.insert_record(
        "us-enterprise", "crm", "Leads",
        {"Last_Name": "Old", "Company": "Keep", "Email": "u@x.io", "City": "Oslo"},
    )  # fmt: skip
    header = ["Last_Name", "Company", "Email", "City"]
    upsert = w.results(
        w.job(
            [header, ["New", "", "u@x.io", ""], ["Fresh", "Co", "f@x.io", "Rome"]],
            operation="upsert", find_by="Email", ignore_empty=True,
        )
    )  # fmt: skip
    assert [r["STATUS"] for r in upsert] == ["UPDATED", "ADDED"]
    assert upsert[0]["RECORD_ID"] == rid
    record = sim.state.get_record("us-enterprise", "crm", "Leads", rid)
    assert record is not None
    assert (record["Last_Name"], record["Company"], record["City"]) == ("New", "Keep", "Oslo")
    w.results(w.job([["id", "City"], [rid, ""]], operation="update", find_by="id"))
    record = sim.state.get_record("us-enterprise", "crm", "Leads", rid)
    assert record is not None
    assert record["City"] is None  # ignore_empty false: the empty cell blanks the field
    skipped = w.results(w.job([header, ["Dup", "Co", "u@x.io", ""]], find_by="Email"))
    assert (skipped[0]["STATUS"], skipped[0]["RECORD_ID"]) == ("SKIPPED", "")
    assert w.details(w.job([header, ["Dup", "Co", "u@x.io", ""]], find_by="Email"))["id"]


def test_lookups_formats_defaults_and_round_trip(sim: SimServer, w: Writer) -> None:
    account = sim.state.get_record(
        "us-enterprise", "crm", "Accounts", str(int(w.c.org.id_prefix) * 10**12 + 4 * 10**10 + 7)
    )
    assert account is not None
    name = str(account["Account_Name"])
    users = sim.state.store("us-enterprise", "crm", "Contacts")
    assert users is not None
    owner = users.users[1]
    account_id = str(account["id"])
    rows = [
        ["Last_Name", "Account_Name.Account_Name", "Title", "Birth", "Langs", "Owner", "Score"],
        ["One", name, "", "31/01/1990", "English;日本語", owner.email, "5"],
        ["Two", "", "Lead", "", "", "", ""],
        ["Three", "No Such Account Ltd", "", "", "", "", ""],
    ]
    mappings: list[dict[str, Any]] = [
        {"api_name": "Last_Name", "index": 0},
        {"api_name": "Account_Name", "index": 1},
        {"api_name": "Title", "index": 2, "default_value": {"value": "Buyer"}},
        {"api_name": "Date_of_Birth", "index": 3, "format": "dd/MM/yyyy"},
        {"api_name": "Languages", "index": 4},
        {"api_name": "Owner", "index": 5, "find_by": "email"},
        {"api_name": "Contact_Score", "index": 6},
        {"api_name": "Lead_Source", "default_value": {"value": "Web"}},
    ]
    results = w.results(w.job(rows, module="Contacts", mappings=mappings))
    assert [r["STATUS"] for r in results] == ["ADDED", "ADDED", "UNPROCESSED"]
    assert results[2]["ERRORS"] == "INVALID_DATA-Account_Name.Account_Name"
    by_id_rows = [["Last_Name", "Account_Name"], ["Four", account_id]]
    by_id = w.results(
        w.job(by_id_rows, module="Contacts", mappings=[
            {"api_name": "Last_Name", "index": 0},
            {"api_name": "Account_Name", "index": 1, "find_by": "id"},
        ])
    )  # fmt: skip
    assert by_id[0]["STATUS"] == "ADDED"
    one = results[0]["RECORD_ID"]
    read = w.c.read_all(
        {
            "module": {"api_name": "Contacts"},
            "fields": ["Last_Name", "Account_Name", "Date_of_Birth", "Languages", "Owner",
                       "Title", "Lead_Source", "Contact_Score"],
            "criteria": {"field": {"api_name": "Last_Name"}, "comparator": "equal", "value": "One"},
        }
    )  # fmt: skip
    (back,) = [r for r in read if r["id"] == one]
    assert back["Account_Name"] == account["id"]
    assert back["Date_of_Birth"] == "1990-01-31"
    assert back["Languages"] == "English;日本語"
    assert back["Owner"] == owner.id
    assert (back["Title"], back["Lead_Source"], back["Contact_Score"]) == ("Buyer", "Web", "5")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"resource": []}, "MANDATORY_NOT_FOUND"),
        ({"operation": "merge", "resource": [{}]}, "INVALID_DATA"),
        ({"operation": "insert"}, "MANDATORY_NOT_FOUND"),
        ({"operation": "insert", "callback": {"url": "http://x", "method": "get"},
          "resource": [{}]}, "INVALID_CALLBACK_METHOD"),
        ({"operation": "insert", "resource": [{"module": {"api_name": "asdf"}, "file_id": "1"}]},
         "MODULE_NOT_AVAILABLE"),
        ({"operation": "insert", "resource": [{"module": {"api_name": "Leads"}, "file_id": "1"}]},
         "INVALID_FILE_ID"),
        ({"operation": "insert", "ignore_empty": True,
          "resource": [{"ignore_empty": False, "module": {"api_name": "Leads"}, "file_id": "1"}]},
         "COEXISTENCE_NOT_ALLOWED"),
    ],
)  # fmt: skip
def test_create_job_request_errors(w: Writer, body: dict[str, Any], code: str) -> None:
    response = w.create(body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert response.json()["status"] == "error"


@pytest.mark.parametrize(
    ("mappings", "extra", "code"),
    [
        ([{"api_name": "Nope", "index": 0}], {}, "INVALID_FIELD"),
        ([{"api_name": "Last_Name", "index": -1}], {}, "COLUMN_INDEX_NOT_FOUND"),
        ([{"api_name": "Last_Name", "index": 9}], {}, "COLUMN_INDEX_NOT_FOUND"),
        ([{"api_name": "Last_Name"}], {}, "MISSING_REQUIRED_KEY"),
        ([{"api_name": "Last_Name", "index": 0}], {}, "MANDATORY_FIELDS_NOT_MAPPED"),
        ([{"api_name": f"F{i}", "index": 0} for i in range(201)], {}, "HEADER_LIMIT_EXCEEDED"),
        ([{"api_name": "Last_Name", "index": 0}, {"api_name": "Company", "index": 1},
          {"api_name": "Follow_Up_Date", "index": 0, "format": "yyyy-QQ"}], {}, "INVALID_FORMAT"),
        ([{"api_name": "Last_Name", "index": 0}, {"api_name": "Company", "index": 1}],
         {"operation": "update"}, "MANDATORY_NOT_FOUND"),
        ([{"api_name": "Last_Name", "index": 0}, {"api_name": "Company", "index": 1}],
         {"find_by": "Company"}, "INVALID_DATA"),
        ([{"api_name": "Created_Time", "index": 0}], {}, "INVALID_FIELD"),
    ],
)  # fmt: skip
def test_field_mapping_errors(
    w: Writer, mappings: list[dict[str, Any]], extra: dict[str, Any], code: str
) -> None:
    file_id = w.upload(make_zip([["Last_Name", "Company"], ["A", "B"]]))
    resource = {"type": "data", "module": {"api_name": "Leads"}, "file_id": file_id,
                "field_mappings": mappings}  # fmt: skip
    operation = extra.pop("operation", "insert")
    resource.update(extra)
    response = w.create({"operation": operation, "resource": [resource]})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_file_limits(w: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.write_requests as bw

    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "Last_Name,Company\nA,B\n")
        archive.writestr("b.csv", "Last_Name,Company\nA,B\n")
    monkeypatch.setattr(bw, "MAX_ROWS", 2)
    for data in (two.getvalue(), make_zip([["Last_Name", "Company"], *[["A", "B"]] * 3])):
        file_id = w.upload(data)
        response = w.create(
            {"operation": "insert",
             "resource": [{"module": {"api_name": "Leads"}, "file_id": file_id}]}
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["code"] == "FILE_NOT_SUPPORTED"


def test_auto_mapping_semicolon_delimiter_and_failed_job(sim: SimServer, w: Writer) -> None:
    data = make_zip([["Last_Name", "Company"], ["Semi", "Colon Co"]], delimiter=";")
    file_id = w.upload(data)
    body = {
        "operation": "insert",
        "resource": [{"module": {"api_name": "Leads"}, "file_id": file_id}],
    }
    response = w.create(body)
    assert response.status_code == 201
    (row,) = w.results(str(response.json()["details"]["id"]))
    assert row["STATUS"] == "ADDED"
    sim.state.add_fault("job_failure", path="/crm/Leads")
    failing = w.create(body)
    detail = w.wait(str(failing.json()["details"]["id"]))
    assert detail["status"] == "FAILED"
    assert "result" not in detail
    assert detail["resource"][0]["message"]


def test_recruit_write_and_unknown_job(recruit: ZohoCaller, w: Writer) -> None:
    r = Writer(recruit)
    rows = [["Last_Name", "Email", "Skill_Set"], ["Rao", "rao@x.io", "Python;SQL"]]
    (row,) = r.results(r.job(rows, module="Candidates"))
    assert row["STATUS"] == "ADDED"
    detail = r.wait(r.job(rows[:1], module="Candidates"))
    assert "/us/download/v2/crm/700000001/bulk-write/" in detail["result"]["download_url"]
    assert detail["resource"][0]["file"]["total_count"] == 0
    assert w.c.get(f"{w.write_url}/{detail['id']}").status_code == 404  # not a CRM job
    missing = w.c.get(f"{w.write_url}/4876876000005350999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "RESOURCE_NOT_FOUND"


def test_callback_receives_the_finished_job(w: Writer) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        file_id = w.upload(make_zip([["Last_Name", "Company"], ["Cb", "Co"]]))
        url = f"http://127.0.0.1:{server.server_address[1]}/cb"
        response = w.create(
            {"operation": "insert", "callback": {"url": url, "method": "post"},
             "resource": [{"module": {"api_name": "Leads"}, "file_id": file_id}]}
        )  # fmt: skip
        assert response.status_code == 201
        assert arrived.wait(10)
        (payload,) = received
        assert payload["id"] == response.json()["details"]["id"]
        assert payload["status"] == "COMPLETED"
        assert payload["callback"] == {"url": url, "method": "post"}
        assert payload["result"]["download_url"].startswith(w.c.sim.base_url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ----------------------------------------------------------------- parent/child imports

DEAL_HEADER = ["Ref", "Deal_Name", "Stage", "Closing_Date"]
ITEM_HEADER = ["Deal_Ref", "Product_Name", "Quantity", "Unit_Price"]
DEAL_MAPPINGS = [
    {"api_name": "Deal_Name", "index": 1},
    {"api_name": "Stage", "index": 2},
    {"api_name": "Closing_Date", "index": 3, "format": "yyyy-MM-dd"},
]


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def multi_zip(files: dict[str, list[list[str]]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, rows in files.items():
            archive.writestr(name, csv_text(rows))
    return sink.getvalue()


def parent_child_body(
    file_id: str, item_link: dict[str, Any], operation: str = "insert"
) -> dict[str, Any]:
    return {
        "operation": operation,
        "resource": [
            {"type": "data", "module": {"api_name": "Deals"}, "file_id": file_id,
             "file_names": ["Deals.csv"], "field_mappings": DEAL_MAPPINGS},
            {"type": "data", "module": {"api_name": "Deal_Line_Items"}, "file_id": file_id,
             "file_names": ["Deal_Line_Items.csv"],
             "field_mappings": [{"api_name": "Parent_Id", "index": 0, **item_link},
                                {"api_name": "Product_Name", "index": 1},
                                {"api_name": "Quantity", "index": 2},
                                {"api_name": "Unit_Price", "index": 3}]},
        ],
    }  # fmt: skip


def result_csvs(w: Writer, detail: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    response = w.c.get(detail["result"]["download_url"])
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {
            n: list(csv.DictReader(io.StringIO(archive.read(n).decode(), newline="")))
            for n in archive.namelist()
        }


def test_parent_child_import_links_children_to_parents_of_the_same_job(w: Writer) -> None:
    files = {
        "Deals.csv": [DEAL_HEADER,
                      ["D1", "Alpha deal", "Qualification", "2026-03-01"],
                      ["D2", "Beta deal", "Proposal", "2026-04-01"],
                      ["D3", "", "Proposal", "2026-04-01"]],  # no Deal_Name: fails
        "Deal_Line_Items.csv": [ITEM_HEADER,
                                ["D1", "Widget", "2", "10.50"],
                                ["D1", "Gadget", "1", "99"],
                                ["D2", "Widget", "5", "10.5"],
                                ["D3", "Orphan", "1", "1"],     # its parent failed
                                ["D9", "Nowhere", "1", "1"],    # no such parent row
                                ["", "No link", "1", "1"]],
    }  # fmt: skip
    file_id = w.upload(multi_zip(files))
    response = w.create(parent_child_body(file_id, {"parent_column_index": 0}))
    assert response.status_code == 201, response.text
    detail = w.wait(str(response.json()["details"]["id"]))
    assert detail["status"] == "COMPLETED", detail
    files_of = {r["module"]["api_name"]: r["file"] for r in detail["resource"]}
    assert files_of["Deals"] == {
        "status": "COMPLETED",
        "name": "Deals.csv",
        "added_count": 2,
        "skipped_count": 0,
        "updated_count": 0,
        "total_count": 3,
    }
    assert files_of["Deal_Line_Items"]["name"] == "Deal_Line_Items.csv"
    assert (files_of["Deal_Line_Items"]["added_count"],
            files_of["Deal_Line_Items"]["total_count"]) == (3, 6)  # fmt: skip
    items_echo = detail["resource"][1]["field_mappings"][0]
    assert (items_echo["api_name"], items_echo["parent_column_index"]) == ("Parent_Id", 0)
    results = result_csvs(w, detail)
    assert sorted(results) == ["Deal_Line_Items-Deal_Line_Items.csv", "Deals-Deals.csv"]
    deals = results["Deals-Deals.csv"]
    assert [d["STATUS"] for d in deals] == ["ADDED", "ADDED", "UNPROCESSED"]
    assert deals[2]["ERRORS"] == "MANDATORY_NOT_FOUND-Deal_Name"
    items = results["Deal_Line_Items-Deal_Line_Items.csv"]
    assert list(items[0]) == ["Deal_Ref", "Product_Name", "Quantity", "STATUS", "RECORD_ID",
                              "ERRORS"]  # fmt: skip
    assert [i["Deal_Ref"] for i in items] == ["D1", "D1", "D2", "D3", "D9", ""]  # as uploaded
    assert [i["STATUS"] for i in items] == ["ADDED"] * 3 + ["UNPROCESSED"] * 3
    assert [i["ERRORS"] for i in items[3:]] == [
        "INVALID_DATA-Deal_Ref",
        "INVALID_DATA-Deal_Ref",
        "MANDATORY_NOT_FOUND-Parent_Id",
    ]
    # a later bulk read of the subform returns the child rows linked to their new parents
    read = w.c.read_all(
        {
            "module": {"api_name": "Deal_Line_Items"},
            "fields": ["Parent_Id", "Product_Name", "Quantity", "Unit_Price"],
        }
    )
    parent_of = {"D1": deals[0]["RECORD_ID"], "D2": deals[1]["RECORD_ID"]}
    got = sorted((r["Parent_Id"], r["Product_Name"], r["Quantity"], r["Unit_Price"])
                 for r in read)  # fmt: skip
    assert got == sorted([(parent_of["D1"], "Widget", "2", "10.50"),
                          (parent_of["D1"], "Gadget", "1", "99.00"),
                          (parent_of["D2"], "Widget", "5", "10.50")])  # fmt: skip
    assert {r["id"] for r in read} == {i["RECORD_ID"] for i in items[:3]}


def test_parent_child_upsert_links_by_record_id(w: Writer) -> None:
    existing = w.c.read_all(
        {
            "module": {"api_name": "Deals"},
            "fields": ["Deal_Name"],
            "criteria": {
                "field": {"api_name": "Deal_Name"},
                "comparator": "not_equal",
                "value": "x",
            },
        }
    )[0]
    files = {
        "Deals.csv": [["Ref", "id", "Deal_Name", "Stage", "Closing_Date"],
                      ["E", existing["id"], "Renamed deal", "Proposal", "2026-05-01"]],
        "Deal_Line_Items.csv": [ITEM_HEADER, [existing["id"], "Service", "3", "7"]],
    }  # fmt: skip
    file_id = w.upload(multi_zip(files))
    body = parent_child_body(file_id, {"find_by": "id"}, operation="upsert")
    body["resource"][0]["find_by"] = "id"
    body["resource"][0]["field_mappings"] = [
        {"api_name": "id", "index": 1}, {"api_name": "Deal_Name", "index": 2},
        {"api_name": "Stage", "index": 3},
        {"api_name": "Closing_Date", "index": 4, "format": "yyyy-MM-dd"},
    ]  # fmt: skip
    response = w.create(body)
    assert response.status_code == 201, response.text
    detail = w.wait(str(response.json()["details"]["id"]))
    counts = [(r["file"]["updated_count"], r["file"]["added_count"]) for r in detail["resource"]]
    assert counts == [(1, 0), (0, 1)]
    read = w.c.read_all({"module": {"api_name": "Deal_Line_Items"},
                         "fields": ["Parent_Id", "Product_Name"]})  # fmt: skip
    assert [(r["Parent_Id"], r["Product_Name"]) for r in read] == [(existing["id"], "Service")]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("no_file_names", "MANDATORY_NOT_FOUND"),
        ("other_file_id", "INVALID_FILE_ID"),
        ("same_csv", "INVALID_DATA"),
        ("child_first", "INVALID_DATA"),
        ("not_a_subform", "INVALID_DATA"),
        ("no_parent_id", "MANDATORY_FIELDS_NOT_MAPPED"),
        ("bad_parent_column", "COLUMN_INDEX_NOT_FOUND"),
        ("missing_csv", "INVALID_DATA"),
    ],
)
def test_parent_child_request_errors(w: Writer, change: str, code: str) -> None:
    files = {"Deals.csv": [DEAL_HEADER, ["D1", "A", "Proposal", "2026-01-01"]],
             "Deal_Line_Items.csv": [ITEM_HEADER, ["D1", "W", "1", "1"]]}  # fmt: skip
    file_id = w.upload(multi_zip(files))
    body = parent_child_body(file_id, {"parent_column_index": 0})
    parent, child = body["resource"]
    if change == "no_file_names":
        del parent["file_names"], child["file_names"]
    elif change == "other_file_id":
        child["file_id"] = w.upload(multi_zip(files))
    elif change == "same_csv":
        child["file_names"] = ["Deals.csv"]
    elif change == "child_first":
        body["resource"] = [child, parent]
    elif change == "not_a_subform":
        child["module"] = {"api_name": "Contacts"}
    elif change == "no_parent_id":
        child["field_mappings"] = child["field_mappings"][1:]
    elif change == "bad_parent_column":
        child["field_mappings"][0]["parent_column_index"] = 9
    elif change == "missing_csv":
        child["file_names"] = ["Items.csv"]
    response = w.create(body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_multi_csv_zip_needs_file_names(w: Writer) -> None:
    files = {"Deals.csv": [DEAL_HEADER, ["D1", "A", "Proposal", "2026-01-01"]],
             "Deal_Line_Items.csv": [ITEM_HEADER, ["D1", "W", "1", "1"]]}  # fmt: skip
    file_id = w.upload(multi_zip(files))
    resource = {"type": "data", "module": {"api_name": "Deals"}, "file_id": file_id,
                "field_mappings": DEAL_MAPPINGS}  # fmt: skip
    response = w.create({"operation": "insert", "resource": [resource]})
    assert response.status_code == 400
    assert response.json()["code"] == "FILE_NOT_SUPPORTED"
    # naming the CSV makes the same zip acceptable for a single-module import
    response = w.create({"operation": "insert",
                         "resource": [{**resource, "file_names": ["Deals.csv"]}]})  # fmt: skip
    assert response.status_code == 201, response.text


def test_recruit_takes_one_csv_per_zip(recruit: ZohoCaller) -> None:
    w = Writer(recruit)
    header = ["Last_Name", "First_Name", "Email"]
    files = {"Candidates.csv": [header, ["Ng", "Al", "al@ng.io"]],
             "Other.csv": [header, ["Li", "Bo", "bo@li.io"]]}  # fmt: skip
    file_id = w.upload(multi_zip(files))
    resource = {"type": "data", "module": "Candidates", "file_id": file_id,
                "file_names": ["Candidates.csv"]}  # fmt: skip
    for resources in ([resource], [resource, {**resource, "file_names": ["Other.csv"]}]):
        response = w.create({"operation": "insert", "resource": resources})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "FILE_NOT_SUPPORTED"


def test_recruit_refuses_the_crm_v8_request_shapes(recruit: ZohoCaller, crm: ZohoCaller) -> None:
    w = Writer(recruit)
    rows = [["Last_Name", "Email"], ["Rao", "rao@x.io"]]
    file_id = w.upload(make_zip(rows))
    v2 = {"type": "data", "module": "Candidates", "file_id": file_id}
    object_module = w.create({"operation": "insert", "resource": [
        {**v2, "module": {"api_name": "Candidates"}}]})  # fmt: skip
    assert object_module.status_code == 400, object_module.text
    assert object_module.json()["code"] == "INVALID_DATA"
    assert object_module.json()["details"]["json_path"] == "$.resource[0].module"
    top_level = w.create({"operation": "insert", "ignore_empty": True, "resource": [v2]})
    assert top_level.status_code == 400, top_level.text
    assert top_level.json()["details"]["api_name"] == "ignore_empty"
    on_resource = w.create({"operation": "insert", "resource": [{**v2, "ignore_empty": True}]})
    assert on_resource.status_code == 201, on_resource.text
    # the CRM SDK's content host does not serve Recruit uploads
    wrong_host = recruit.session.post(
        f"{recruit.sim.base_url}/{recruit.org.dc}/content/recruit/v2/upload",
        headers={**recruit.headers, "feature": "bulk-write", "X-RECRUIT-ORG": recruit.org.zgid},
        files={"file": ("x.zip", make_zip(rows))},
    )
    assert wrong_host.status_code == 404, wrong_host.text
    assert wrong_host.json()["code"] == "INVALID_URL_PATTERN"
    # CRM v8 keeps its own shape
    assert Writer(crm).job([["Last_Name", "Company"], ["A", "B"]], ignore_empty=True)
