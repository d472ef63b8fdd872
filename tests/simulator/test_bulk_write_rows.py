"""Row processing of a simulated bulk write: every documented row error, update/upsert, formats."""

from __future__ import annotations

from typing import Any

from simulator.testing import SimServer
from simulator.write_processing import block_record
from tests.simulator.writes import Writer


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
