"""Bulk write client and the whole write-back path against the simulator over loopback HTTP."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.bulk_read import BulkReadQuery, JobState
from connectors.bulk_write import (
    BulkWriteClient,
    BulkWriteJob,
    data_resource,
    job_body,
    result_files,
)
from connectors.client import ZohoClient
from connectors.credits import CallType
from connectors.errors import InvalidRequestError, ZohoError
from engine.ledger import Ledger
from engine.writeback.driver import SavedWrite, resume_write, retry_failed_rows, write_table
from engine.writeback.parent_child import ChildWrite, write_parent_child
from simulator.testing import SimServer
from tests.connectors.simhelpers import US, csv_rows, sim_client
from transforms.writeback import FieldMapping, Lookup, WriteMapping, load_mapping
from transforms.writeback.csv_builder import zip_members
from transforms.writeback.errors import ResumeStateError


@pytest.fixture
def crm(sim: SimServer) -> Iterator[ZohoClient]:
    client = sim_client(sim, org_id=US.zgid)
    yield client
    client.close()


@pytest.fixture
def writer(crm: ZohoClient) -> BulkWriteClient:
    return BulkWriteClient.for_client(crm)


def small_zip(text: str = "Last_Name,Company\nNg,Acme\n") -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("Leads.csv", text)
    return sink.getvalue()


def test_steps_upload_create_poll_download(writer: BulkWriteClient, crm: ZohoClient) -> None:
    file_id = writer.upload(small_zip(), "leads.zip")
    job_id = writer.create_job(
        {"operation": "insert", "resource": [{"type": "data", "module": {"api_name": "Leads"},
         "file_id": file_id, "field_mappings": [{"api_name": "Last_Name", "index": 0},
                                                {"api_name": "Company", "index": 1}]}]}
    )  # fmt: skip
    polled: list[str] = []
    job = writer.wait(job_id, on_poll=lambda j: polled.append(j.raw_status))
    assert job.state is JobState.COMPLETED
    assert job.file_counts["added_count"] == 1
    assert job.download_url is not None
    assert job.download_url.startswith(crm.endpoints.download)
    data = writer.download_result(job.download_url)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    assert text.splitlines()[0] == "Last_Name,Company,STATUS,RECORD_ID,ERRORS"
    report = crm.meter.report()
    assert report.credits_by_call_type[CallType.BULK_WRITE_CREATE.value] == 500
    assert writer.reattach(job_id).state is JobState.COMPLETED


def test_upload_errors_are_raised(writer: BulkWriteClient, sim: SimServer) -> None:
    with pytest.raises(InvalidRequestError) as info:
        writer.upload(b"not a zip", "x.zip")
    assert info.value.code == "INVALID_FILE_FORMAT"
    wrong_org = BulkWriteClient(
        writer.http, writer.product, writer._base_url, writer._upload_url,
        writer.download_host, lambda: {"X-CRM-ORG": "123"},
    )  # fmt: skip
    with pytest.raises(ZohoError) as bad:
        wrong_org.upload(small_zip(), "x.zip")
    assert bad.value.http_status == 400
    assert "X-CRM-ORG" in str(bad.value.details)
    with pytest.raises(InvalidRequestError) as missing:
        writer.create_job({"resource": []})
    assert missing.value.code == "MANDATORY_NOT_FOUND"


def test_job_detail_spellings_and_relative_urls() -> None:
    raw = {"data": [{"id": "9", "status": "INPROGRESS", "resource": [{"file": {"status": "x"}}]}]}
    job = BulkWriteJob.from_detail(raw["data"][0], path="/p")
    assert job.state is JobState.IN_PROGRESS
    assert not job.finished
    done = BulkWriteJob.from_detail(
        {"id": "9", "status": "FAILED", "resource": [{"file": {"added_count": "3"}}]}, path="/p"
    )
    assert done.state is JobState.FAILED
    assert done.file_counts == {"added_count": 3}


def contact_specs(crm: ZohoClient) -> Mapping[str, Any]:
    return crm.metadata.fields_by_name("Contacts")


def test_write_table_insert_formats_lookups_defaults_round_trip(
    sim: SimServer, crm: ZohoClient, writer: BulkWriteClient, tmp_path: Path
) -> None:
    accounts = sim.state.store("us-enterprise", "crm", "Accounts")
    assert accounts is not None
    account = accounts.get(str(accounts.base_id + 3))
    assert account is not None
    table = pa.table(
        {
            "no": ["c1", "c2", "c3", "c4"],
            "last": ["Ødegård", "Tanaka", "Nobody", "Ng"],
            "email": ["o@x.io", "t@x.io", "n@x.io", "ng@x.io"],
            "account_name": [account["Account_Name"], None, "No Such Co", None],
            "account_id": [None, account["id"], None, None],
            "born": pa.array([dt.date(1990, 1, 31), None, None, dt.date(2001, 12, 1)]),
            "langs": [["English", "日本語"], None, [], ["Deutsch"]],
            "opt_out": [True, False, None, True],
            "value": [1234.5, 0.1 + 0.2, None, 7.0],
            "source": ["W", None, "T", "W"],
        }
    )
    mapping = WriteMapping(
        "Contacts",
        "insert",
        (
            FieldMapping("Last_Name", "last"),
            FieldMapping("Email", "email"),
            FieldMapping("Account_Name", "account_name", lookup=Lookup("Account_Name", "header")),
            FieldMapping("Date_of_Birth", "born", format="dd.MM.yyyy"),
            FieldMapping("Languages", "langs"),
            FieldMapping("Email_Opt_Out", "opt_out"),
            FieldMapping("Lifetime_Value", "value"),
            FieldMapping("Lead_Source", "source", default_value="Web",
                         values=(("W", "Web"), ("T", "Trade Show"))),
            FieldMapping("Title", default_value="Buyer"),
        ),
        key="no",
    )  # fmt: skip
    report = write_table(table, mapping, contact_specs(crm), writer)
    assert report.results is not None
    statuses = dict(
        zip(report.results["key"].to_pylist(), report.results["status"].to_pylist(), strict=True)
    )
    assert statuses == {"c1": "ADDED", "c2": "ADDED", "c3": "FAILED", "c4": "ADDED"}
    failed = report.results.filter(pa.compute.equal(report.results["key"], "c3")).to_pylist()[0]
    assert failed["errors"] == [{"code": "INVALID_DATA", "fields": ["Account_Name.Account_Name"]}]
    c = report.counts
    assert c["rows"] == c["added"] + c["updated"] + c["skipped"] + c["failed"] + c["rejected"]
    by_id = WriteMapping(
        "Contacts", "update",
        (FieldMapping("Email", "email"),
         FieldMapping("Account_Name", "account_id", lookup=Lookup("id"))),
        find_by="Email",
    )  # fmt: skip
    update = write_table(table.slice(1, 1), by_id, contact_specs(crm), writer)
    assert update.counts["updated"] == 1
    ids = report.results["record_id"].to_pylist()
    pages = crm.bulk_read.export(
        BulkReadQuery("Contacts", fields=("Last_Name", "Email", "Account_Name", "Date_of_Birth",
                                          "Languages", "Email_Opt_Out", "Lifetime_Value",
                                          "Lead_Source", "Title")),
        tmp_path,
    )  # fmt: skip
    rows = {r["id"]: r for page in pages for r in csv_rows(page.zip_path)}
    first, second, fourth = rows[ids[0]], rows[ids[1]], rows[ids[3]]
    assert first["Last_Name"] == "Ødegård"
    assert first["Account_Name"] == account["id"]
    assert first["Date_of_Birth"] == "1990-01-31"
    assert first["Languages"] == "English;日本語"
    assert first["Email_Opt_Out"] == "true"
    assert first["Lifetime_Value"] == "1234.50"
    assert (first["Lead_Source"], first["Title"]) == ("Web", "Buyer")
    assert second["Account_Name"] == account["id"]  # set by the update, found by id
    assert second["Lifetime_Value"] == "0.30"
    assert second["Lead_Source"] == "Web"  # the default filled the empty cell
    assert fourth["Date_of_Birth"] == "2001-12-01"


def test_upsert_with_find_by_reconciles_and_retries(
    sim: SimServer, crm: ZohoClient, writer: BulkWriteClient
) -> None:
    existing = sim.state.insert_record(
        "us-enterprise", "crm", "Contacts", {"Last_Name": "Old", "Email": "keep@x.io"}
    )
    taken = sim.state.insert_record(
        "us-enterprise", "crm", "Contacts", {"Last_Name": "T", "Email": "taken@x.io"}
    )
    del taken
    table = pa.table(
        {
            "last": ["New", "Fresh", None, "Dup", "Long" * 100, "Twin"],
            "email": ["keep@x.io", "fresh@x.io", "none@x.io", "fresh@x.io", "l@x.io", "bad"],
            "first": ["a", "b", "c", "d", "e", "f"],
            "title": ["t1", "t2", "t3", "t4", "t5", "t6"],
            "dept": ["d1", "d2", "d3", "d4", "d5", "d6"],
        }
    )
    mapping = WriteMapping(
        "Contacts", "upsert",
        (FieldMapping("Last_Name", "last"), FieldMapping("Email", "email"),
         FieldMapping("First_Name", "first"), FieldMapping("Title", "title"),
         FieldMapping("Department", "dept")),
        find_by="Email",
    )  # fmt: skip
    specs = dict(contact_specs(crm))
    # Pre-flight would catch these rows; relax it to see Zoho's own per-row answers.
    specs["Last_Name"] = FieldSpec_with(
        specs["Last_Name"], data_type="textarea", length=None, mandatory=False
    )
    specs["Email"] = FieldSpec_with(specs["Email"], data_type="text")
    report = write_table(table, mapping, specs, writer)
    assert report.results is not None
    got = [
        (r["status"], r["record_id"] == existing, r["errors"]) for r in report.results.to_pylist()
    ]
    assert got[0] == ("UPDATED", True, [])
    assert got[1][0] == "ADDED"
    assert got[2] == ("FAILED", False, [{"code": "MANDATORY_NOT_FOUND", "fields": ["Last_Name"]}])
    assert got[3] == ("REJECTED", False, [{"code": "DUPLICATE_DATA", "fields": ["Email"]}])
    assert got[4] == ("FAILED", False, [{"code": "LIMIT_EXCEEDED", "fields": ["Last_Name"]}])
    assert got[5] == ("FAILED", False, [{"code": "INVALID_DATA", "fields": ["Email"]}])
    assert report.counts == {
        "added": 1,
        "updated": 1,
        "skipped": 0,
        "failed": 3,
        "rejected": 1,
        "rows": 6,
    }
    fixed = table.set_column(0, "last", pa.array(["New", "Fresh", "None", "Dup", "Long", "Twin"]))
    fixed = fixed.set_column(
        1,
        "email",
        pa.array(["keep@x.io", "fresh@x.io", "none@x.io", "dup@x.io", "l@x.io", "twin@x.io"]),
    )
    retried = retry_failed_rows(fixed, report.results, mapping, specs, writer)
    assert retried.counts == {
        "added": 5,
        "updated": 1,
        "skipped": 0,
        "failed": 0,
        "rejected": 0,
        "rows": 6,
    }


def FieldSpec_with(spec: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(spec, **changes)


def test_sixty_thousand_rows_in_three_jobs(
    sim: SimServer, crm: ZohoClient, writer: BulkWriteClient
) -> None:
    n = 60_000
    table = pa.table(
        {
            "last": [f"L{i}" for i in range(n)],
            "company": [f"C{i % 97}" for i in range(n)],
            "email": [f"bulk{i}@x.io" for i in range(n)],
        }
    )
    mapping = WriteMapping(
        "Leads", "insert",
        (FieldMapping("Last_Name", "last"), FieldMapping("Company", "company"),
         FieldMapping("Email", "email")),
    )  # fmt: skip
    before = sim.state.stats.snapshot()["jobs_created"].get("us-enterprise/crm/Leads#write", 0)
    report = write_table(table, mapping, crm.metadata.fields_by_name("Leads"), writer)
    assert [c.rows for c in report.chunks] == [25_000, 25_000, 10_000]
    assert report.counts["added"] == n
    assert sim.state.stats.snapshot()["jobs_created"]["us-enterprise/crm/Leads#write"] - before == 3
    assert crm.meter.report().credits_by_call_type[CallType.BULK_WRITE_CREATE.value] == 1500


class CrashingWriter:
    """Delegates to the real client, but 'dies' once after the given step of chunk 1."""

    def __init__(self, inner: BulkWriteClient, step: str) -> None:
        self.inner = inner
        self.step = step
        self.calls: dict[str, int] = {"upload": 0, "create": 0}

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        self.calls["upload"] += 1
        return self.inner.upload(zip_bytes, filename)

    def create_job(self, body: Mapping[str, Any]) -> str:
        self.calls["create"] += 1
        job_id = self.inner.create_job(body)
        if self.step == "create" and self.calls["create"] == 2:
            raise KeyboardInterrupt("killed after job creation, before its id was saved")
        return job_id

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        if self.step == "wait" and self.calls["create"] == 2:
            self.step = ""
            raise KeyboardInterrupt("killed while polling")
        return self.inner.wait_for_job(job_id)

    def download_result(self, download_url: str) -> bytes:
        return self.inner.download_result(download_url)


def test_interrupted_write_resumes_without_sending_rows_twice(
    sim: SimServer, crm: ZohoClient, writer: BulkWriteClient, ledger: Ledger, tmp_path: Path
) -> None:
    n = 30
    table = pa.table({"last": [f"R{i}" for i in range(n)], "company": ["Co"] * n,
                      "email": [f"r{i}@x.io" for i in range(n)]})  # fmt: skip
    mapping = WriteMapping(
        "Leads", "insert",
        (FieldMapping("Last_Name", "last"), FieldMapping("Company", "company"),
         FieldMapping("Email", "email")),
    )  # fmt: skip
    specs = crm.metadata.fields_by_name("Leads")
    crashing = CrashingWriter(writer, "wait")
    saved = SavedWrite(ledger, "w", tmp_path / "w")
    with pytest.raises(KeyboardInterrupt):
        write_table(table, mapping, specs, crashing, state=saved, max_rows_per_job=10)
    jobs = sim.state.stats.snapshot()["jobs_created"]["us-enterprise/crm/Leads#write"]
    assert jobs == 2
    report = resume_write(saved, table, mapping, specs, writer)
    assert sim.state.stats.snapshot()["jobs_created"]["us-enterprise/crm/Leads#write"] == 3
    assert report.counts["added"] == n
    store = sim.state.store("us-enterprise", "crm", "Leads")
    assert store is not None
    assert len(store.find("Last_Name", "R15")) == 1  # chunk 1 was written exactly once


def test_lost_job_id_is_not_guessed(
    sim: SimServer, crm: ZohoClient, writer: BulkWriteClient, ledger: Ledger, tmp_path: Path
) -> None:
    table = pa.table({"last": [f"Q{i}" for i in range(4)], "company": ["Co"] * 4})
    mapping = WriteMapping(
        "Leads", "insert", (FieldMapping("Last_Name", "last"), FieldMapping("Company", "company"))
    )
    specs = crm.metadata.fields_by_name("Leads")
    saved = SavedWrite(ledger, "w", tmp_path / "w")
    with pytest.raises(KeyboardInterrupt):
        write_table(table, mapping, specs, CrashingWriter(writer, "create"),
                    state=saved, max_rows_per_job=2)  # fmt: skip
    with pytest.raises(ResumeStateError, match="job_ids"):
        resume_write(saved, table, mapping, specs, writer)


def test_recruit_candidates(sim: SimServer) -> None:
    client = sim_client(sim, "recruit", org_id=US.zgid)
    try:
        writer = BulkWriteClient.for_client(client)
        table = pa.table({"last": ["Rao", "Kim"], "email": ["rao@x.io", "kim@x.io"],
                          "skills": [["Python", "SQL"], ["Go"]]})  # fmt: skip
        mapping = WriteMapping(
            "Candidates", "insert",
            (FieldMapping("Last_Name", "last"), FieldMapping("Email", "email"),
             FieldMapping("Skill_Set", "skills")),
        )  # fmt: skip
        report = write_table(table, mapping, client.metadata.fields_by_name("Candidates"), writer)
        assert report.counts["added"] == 2
        assert report.results is not None
        rid = report.results["record_id"][0].as_py()
        record = sim.state.get_record("us-enterprise", "recruit", "Candidates", rid)
        assert record is not None
        assert record["Skill_Set"] == "Python;SQL"
    finally:
        client.close()


def test_a_recruit_write_uses_the_v2_shapes_and_reconciles_exactly(sim: SimServer) -> None:
    """Recruit v2: module as a string, ignore_empty on the resource, upload on the upload host.

    The simulator refuses the CRM v8 shapes on Recruit paths, so this fails if one is sent.
    """
    client = sim_client(sim, "recruit", org_id=US.zgid)
    try:
        writer = BulkWriteClient.for_client(client)
        assert writer._upload_url().endswith("/us/upload/recruit/v2/upload")
        fields = client.metadata.fields_by_name("Candidates")
        names = ["Rao", "Kim", "Lee"]
        table = pa.table({"last": names, "email": [f"{n.lower()}@x.io" for n in names]})
        insert = WriteMapping(
            "Candidates", "insert",
            (FieldMapping("Last_Name", "last"), FieldMapping("Email", "email")),
        )  # fmt: skip
        report = write_table(table, insert, fields, writer)
        assert report.counts["added"] == 3
        assert report.results is not None
        ids = report.results["record_id"].to_pylist()
        assert len(set(ids)) == 3
        for rid, name in zip(ids, names, strict=True):
            record = sim.state.get_record("us-enterprise", "recruit", "Candidates", rid)
            assert record is not None
            assert record["Last_Name"] == name
        # ignore_empty on the resource: an empty Email leaves the stored one alone
        update = WriteMapping(
            "Candidates", "update",
            (FieldMapping("id", "id"), FieldMapping("Last_Name", "last"),
             FieldMapping("Email", "email")),
            find_by="id", ignore_empty=True,
        )  # fmt: skip
        changed = pa.table(
            {"id": ids[:1], "last": ["Rao-Singh"], "email": pa.array([None], pa.string())}
        )
        again = write_table(changed, update, fields, writer)
        assert again.counts["updated"] == 1
        record = sim.state.get_record("us-enterprise", "recruit", "Candidates", ids[0])
        assert record is not None
        assert (record["Last_Name"], record["Email"]) == ("Rao-Singh", "rao@x.io")
    finally:
        client.close()


def test_dry_run_of_the_example_mapping_costs_no_write_credits(sim: SimServer) -> None:
    client = sim_client(sim, "recruit", org_id=US.zgid)
    try:
        mapping = load_mapping(
            Path(__file__).parents[2] / "transforms" / "writeback" / "examples" / "candidates.yaml"
        )
        table = pa.table(
            {
                "candidate_no": ["k1", "k2"],
                "first_name": ["Asha", "Ben"],
                "last_name": ["Rao", None],
                "email": ["asha@x.io", "ben@x.io"],
                "title": ["Engineer", "Analyst"],
                "status_code": ["R", "Q"],
                "skills": [["Python", "SQL"], ["Go"]],
                "expected_salary": [90000.0, 80000.5],
                "available_from": pa.array([dt.date(2026, 2, 1), None]),
            }
        )
        fields = client.metadata.fields_by_name("Candidates")
        before = client.meter.report().used
        report = write_table(table, mapping, fields, None, dry_run=True)
        assert client.meter.report().used == before
        assert report.preflight["valid"] == 1
        assert report.preflight["issues"] == {
            "INVALID_DATA-Candidate_Status": 1,
            "MANDATORY_NOT_FOUND-Last_Name": 1,
        }
        assert report.credits_estimate == 500
        assert report.results is None
    finally:
        client.close()


# ----------------------------------------------------------------- parent/child imports


def test_parent_child_job_through_the_client(writer: BulkWriteClient, crm: ZohoClient) -> None:
    deals = b"Ref,Deal_Name,Stage,Closing_Date\nP1,Client deal,Proposal,2026-02-01\n"
    items = b"Ref,Product_Name,Quantity\nP1,Bolt,4\nP1,Nut,8\n"
    data = zip_members([("Deals.csv", deals), ("Deal_Line_Items.csv", items)])
    file_id = writer.upload(data, "deal-items.zip")
    body = job_body(
        "insert",
        [
            data_resource("Deals", file_id, [
                {"api_name": "Deal_Name", "index": 1}, {"api_name": "Stage", "index": 2},
                {"api_name": "Closing_Date", "index": 3, "format": "yyyy-MM-dd"},
            ], file_name="Deals.csv"),
            data_resource("Deal_Line_Items", file_id, [
                {"api_name": "Parent_Id", "index": 0, "parent_column_index": 0},
                {"api_name": "Product_Name", "index": 1}, {"api_name": "Quantity", "index": 2},
            ], file_name="Deal_Line_Items.csv"),
        ],
        ignore_empty=True,
    )  # fmt: skip
    job = writer.wait(writer.create_job(body))
    assert job.state is JobState.COMPLETED
    assert [(r.module, r.name, r.counts["added_count"]) for r in job.resources] == [
        ("Deals", "Deals.csv", 1),
        ("Deal_Line_Items", "Deal_Line_Items.csv", 2),
    ]
    assert job.download_url is not None
    files = result_files(writer.download_result(job.download_url))
    assert sorted(files) == ["Deal_Line_Items-Deal_Line_Items.csv", "Deals-Deals.csv"]


def test_job_body_checks_parent_child_rules() -> None:
    parent = data_resource("Deals", "7", [], file_name="Deals.csv")
    child = data_resource("Deal_Line_Items", "7", [], file_name="Items.csv")
    assert job_body("upsert", [parent, child])["resource"][1]["file_names"] == ["Items.csv"]
    for resources, why in (
        ([parent, data_resource("Deal_Line_Items", "7", [])], "needs file_names"),
        ([parent, data_resource("Deal_Line_Items", "8", [], file_name="Items.csv")],
         "share one file_id"),
        ([parent, data_resource("Deal_Line_Items", "7", [], file_name="Deals.csv")],
         "its own CSV"),
        ([], "at least one resource"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=why):
            job_body("insert", resources)
    with pytest.raises(ValueError, match="operation must be"):
        job_body("merge", [parent])


def test_write_parent_child_round_trip(
    writer: BulkWriteClient, crm: ZohoClient, tmp_path: Path
) -> None:
    deals = pa.table({
        "ref": ["A", "B", "C"],
        "name": ["Deal A", "Deal B", "Deal C"],
        "stage": ["Proposal", "Qualification", "Proposal"],
        "close": [dt.date(2026, 1, 5), dt.date(2026, 2, 6), None],  # C fails pre-flight
    })  # fmt: skip
    items = pa.table({
        "deal": ["A", "A", "B", "C", "Z"],
        "product": ["Bolt", "Nut", "Gear", "Cog", "Ghost"],
        "qty": [1, 2, 3, 4, 5],
        "price": [1.5, 0.25, 10.0, 1.0, 1.0],
    })  # fmt: skip
    deal_mapping = WriteMapping("Deals", "insert", (
        FieldMapping("Deal_Name", "name"), FieldMapping("Stage", "stage"),
        FieldMapping("Closing_Date", "close", format="yyyy-MM-dd"),
    ), key="ref")  # fmt: skip
    item_mapping = WriteMapping("Deal_Line_Items", "insert", (
        FieldMapping("Product_Name", "product"), FieldMapping("Quantity", "qty"),
        FieldMapping("Unit_Price", "price"),
    ))  # fmt: skip
    child = ChildWrite(items, item_mapping, crm.metadata.fields("Deal_Line_Items"), "deal")
    report = write_parent_child(
        deals, deal_mapping, crm.metadata.fields("Deals"), [child], writer, parent_key="ref"
    )
    assert report.failure is None
    assert report.counts["Deals"] == {"rows": 3, "added": 2, "updated": 0, "skipped": 0,
                                      "failed": 0, "rejected": 1}  # fmt: skip
    assert report.counts["Deal_Line_Items"] == {
        "rows": 5, "added": 3, "updated": 0, "skipped": 0, "failed": 0, "rejected": 2
    }  # fmt: skip
    assert report.file_counts["Deal_Line_Items"]["total_count"] == 3
    orphans = report.issues["Deal_Line_Items"]
    assert orphans.column("row").to_pylist() == [3, 4]
    assert set(orphans.column("api_name").to_pylist()) == {"Parent_Id"}
    deal_ids = report.results["Deals"].column("record_id").to_pylist()
    item_ids = report.results["Deal_Line_Items"].column("record_id").to_pylist()
    pages = crm.bulk_read.export(
        BulkReadQuery("Deal_Line_Items", fields=("Parent_Id", "Product_Name", "Quantity",
                                                 "Unit_Price")), tmp_path,
    )  # fmt: skip
    read = {r["id"]: r for page in pages for r in csv_rows(page.zip_path)}
    linked = {(r["Parent_Id"], r["Product_Name"], r["Quantity"], r["Unit_Price"])
              for r in read.values()}  # fmt: skip
    assert linked == {(deal_ids[0], "Bolt", "1", "1.50"), (deal_ids[0], "Nut", "2", "0.25"),
                      (deal_ids[1], "Gear", "3", "10.00")}  # fmt: skip
    assert set(read) == {i for i in item_ids if i is not None}
