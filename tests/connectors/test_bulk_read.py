"""Bulk read client against an in-process fake (paging, failures, resume).

The same flows run against the real simulator over HTTP in ``test_client.py``.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from connectors.bulk_read import (
    BulkReadClient,
    BulkReadJob,
    BulkReadObserver,
    BulkReadQuery,
    DownloadedPage,
    JobState,
    PollPolicy,
)
from connectors.errors import (
    BulkJobFailedError,
    CorruptZipError,
    JobTimeoutError,
    NotFoundError,
    UnexpectedResponseError,
    ZipRejectedError,
)
from connectors.products import CRM, RECRUIT, Product
from connectors.zipcheck import iter_member_bytes
from tests.connectors.fakes import BASE, Call, FakeZoho, Reply, error
from tests.connectors.fakes import client as http_client


def zip_bytes(name: str, csv: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, csv)
    return buf.getvalue()


class FakeBulk:
    """Jobs that go ADDED -> <states...> -> COMPLETED; pages of ``per_page`` records."""

    def __init__(
        self,
        product: Product = CRM,
        total: int = 5,
        per_page: int = 2,
        states: tuple[str, ...] = ("QUEUED", "IN PROGRESS"),
        tokens: bool = True,
    ) -> None:
        self.fake = FakeZoho()
        self.product = product
        self.total, self.per_page, self.states, self.tokens = total, per_page, states, tokens
        self.jobs: dict[str, dict[str, Any]] = {}
        self.bodies: list[dict[str, Any]] = []
        self.fail_next = False
        self.fake.route("POST", product.bulk_read_path, self.create)

    def create(self, call: Call) -> Reply:
        body = json.loads(call.body)
        self.bodies.append(body)
        query = body["query"]
        if "page_token" in query:
            page = int(query["page_token"].removeprefix("tok-"))
        else:
            page = int(query.get("page", 1))
        job_id = str(4876876000001294251 + len(self.jobs))
        self.jobs[job_id] = {"page": page, "polls": 0, "fail": self.fail_next}
        self.fail_next = False
        path = f"{self.product.bulk_read_path}/{job_id}"
        self.fake.route("GET", path, lambda c: self.detail(job_id))
        self.fake.route("GET", path + "/result", lambda c: self.result(job_id))
        return Reply(
            201,
            {
                "data": [
                    {
                        "status": "success",
                        "code": "ADDED_SUCCESSFULLY",
                        "message": "Added successfully.",
                        "details": {"id": job_id, "operation": "read", "state": "ADDED"},
                    }
                ],
                "info": {},
            },
        )

    def detail(self, job_id: str) -> Reply:
        job = self.jobs[job_id]
        polls = job["polls"]
        job["polls"] += 1
        detail: dict[str, Any] = {"id": job_id, "operation": "read"}
        if polls < len(self.states):
            detail["state"] = self.states[polls]
        elif job["fail"]:
            detail["state"] = "FAILURE"
            detail["result"] = {
                "error_message": {
                    "status": "error",
                    "code": "INTERNAL_SERVER_ERROR",
                    "message": "Internal server error occurred.",
                    "details": {},
                }
            }
        else:
            page = job["page"]
            count = max(0, min(self.per_page, self.total - (page - 1) * self.per_page))
            more = page * self.per_page < self.total
            result: dict[str, Any] = {
                "page": page,
                "per_page": self.per_page,
                "count": count,
                "download_url": f"{self.product.bulk_read_path}/{job_id}/result",
                "more_records": more,
            }
            if more and self.tokens:
                result["next_page_token"] = f"tok-{page + 1}"
            detail["state"] = "COMPLETED"
            detail["result"] = result
        return Reply(200, {"data": [detail]})

    def result(self, job_id: str) -> Reply:
        page = self.jobs[job_id]["page"]
        first = (page - 1) * self.per_page
        rows = range(first, min(first + self.per_page, self.total))
        csv = b"id,Last_Name\n" + b"".join(f"{i},N{i}\n".encode() for i in rows)
        data = zip_bytes(f"{job_id}.csv", csv)
        return Reply(
            200,
            raw=data,
            headers={"Content-Type": "application/x-download", "Content-Length": str(len(data))},
        )

    def client(self, **kw: Any) -> BulkReadClient:
        poll = PollPolicy(initial=0.001, max_interval=0.002, timeout=5, sleep=lambda _: None)
        return BulkReadClient(
            http_client(self.fake), self.product, lambda: BASE, poll=kw.pop("poll", poll), **kw
        )


def test_create_wait_download_and_walk_pages_by_token(tmp_path: Path) -> None:
    bulk = FakeBulk(total=5, per_page=2)
    events: list[str] = []

    class Recorder(BulkReadObserver):
        def job_created(self, query: BulkReadQuery, job: BulkReadJob) -> None:
            events.append(f"created {job.id} token={query.page_token}")

        def job_completed(self, query: BulkReadQuery, job: BulkReadJob) -> None:
            assert job.result is not None
            events.append(f"completed {job.id} next={job.result.next_page_token}")

        def page_downloaded(self, page: DownloadedPage) -> None:
            events.append(f"downloaded {page.job_id} {page.record_count}")

    client = bulk.client()
    pages = list(
        client.iter_pages(
            BulkReadQuery("Leads", fields=("Last_Name",)), tmp_path, observer=Recorder()
        )
    )
    assert [p.record_count for p in pages] == [2, 2, 1]
    assert [p.sequence for p in pages] == [1, 2, 3]
    assert [b["query"].get("page_token") for b in bulk.bodies] == [None, "tok-2", "tok-3"]
    assert bulk.bodies[0]["query"]["module"] == {"api_name": "Leads"}
    assert len(events) == 9
    assert events[0].startswith("created")
    assert events[2].startswith("downloaded")
    for p in pages:
        assert p.zip_path == tmp_path / f"{p.job_id}.zip"
        assert p.csv_member == f"{p.job_id}.csv"
        assert p.csv_path is None
        assert len(p.zip_sha256) == 64
    # every call was metered: 3 creates at 50 credits, 3 polls per job, 3 downloads
    report = client.http.meter.report()
    assert report.credits_by_call_type == {
        "bulk_read_create": 150,
        "bulk_read_status": 9,
        "bulk_read_download": 3,
    }


def test_recruit_pages_by_page_number_and_string_module(tmp_path: Path) -> None:
    bulk = FakeBulk(product=RECRUIT, total=5, per_page=2, tokens=False, states=("INPROGRESS",))
    pages = bulk.client(extract_csv=True).export(BulkReadQuery("Candidates"), tmp_path)
    assert [p.page for p in pages] == [1, 2, 3]
    assert [b["query"]["page"] for b in bulk.bodies] == [1, 2, 3]
    assert all(b["query"]["module"] == "Candidates" for b in bulk.bodies)
    assert pages[2].csv_path is not None
    assert pages[2].csv_path.read_text() == "id,Last_Name\n4,N4\n"


def test_failure_state_surfaces_zoho_error_message(tmp_path: Path) -> None:
    bulk = FakeBulk()
    bulk.fail_next = True
    with pytest.raises(BulkJobFailedError) as info:
        list(bulk.client().iter_pages(BulkReadQuery("Leads"), tmp_path))
    assert info.value.code == "INTERNAL_SERVER_ERROR"
    assert "Internal server error occurred." in str(info.value)
    assert info.value.job_id in str(info.value)


def test_poll_timeout_names_the_job_for_reattach() -> None:
    bulk = FakeBulk(states=("QUEUED",) * 100)
    clock = [0.0]

    def sleep(s: float) -> None:
        clock[0] += s

    poll = PollPolicy(
        initial=1, factor=2, max_interval=8, timeout=20, sleep=sleep, clock=lambda: clock[0]
    )
    client = bulk.client(poll=poll)
    job = client.create_job(BulkReadQuery("Leads"))
    with pytest.raises(JobTimeoutError) as info:
        client.wait(job.id)
    assert info.value.job_id == job.id
    assert clock[0] == 20  # 1 + 2 + 4 + 8 + 5 (capped at the deadline)
    assert bulk.jobs[job.id]["polls"] == 6


def test_reattach_to_an_existing_job_instead_of_creating(tmp_path: Path) -> None:
    bulk = FakeBulk(total=3, per_page=2)
    client = bulk.client()
    first = client.create_job(BulkReadQuery("Leads"))
    created = len(bulk.bodies)
    pages = client.export(BulkReadQuery("Leads"), tmp_path, resume_job_id=first.id)
    assert pages[0].job_id == first.id
    assert len(bulk.bodies) == created + 1  # only the second page created a job
    assert [p.record_count for p in pages] == [2, 1]


def test_reattach_to_an_unknown_job_is_not_found() -> None:
    bulk = FakeBulk()
    bulk.fake.route(
        "GET",
        CRM.bulk_read_path + "/999",
        lambda c: error(404, "RESOURCE_NOT_FOUND", "The requested resource doesn't exist."),
    )
    with pytest.raises(NotFoundError, match="create a new job"):
        bulk.client().reattach("999")


def test_download_refuses_unfinished_jobs(tmp_path: Path) -> None:
    job = BulkReadJob(id="1", state=JobState.QUEUED, raw_state="QUEUED")
    with pytest.raises(UnexpectedResponseError, match="only COMPLETED"):
        FakeBulk().client().download(job, tmp_path)


def test_unsafe_zip_is_rejected_and_removed(tmp_path: Path) -> None:
    bulk = FakeBulk(total=1)
    client = bulk.client()
    job = client.wait(client.create_job(BulkReadQuery("Leads")).id)
    evil = zip_bytes("../../evil.csv", b"id\n1\n")
    bulk.fake.route(
        "GET",
        f"{CRM.bulk_read_path}/{job.id}/result",
        lambda c: Reply(200, raw=evil, headers={"Content-Type": "application/zip"}),
    )
    with pytest.raises(ZipRejectedError, match="path traversal"):
        client.download(job, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_zip_is_downloaded_again(tmp_path: Path) -> None:
    bulk = FakeBulk(total=1)
    client = bulk.client()
    job = client.wait(client.create_job(BulkReadQuery("Leads")).id)
    path = f"{CRM.bulk_read_path}/{job.id}/result"
    good = bulk.result(job.id)
    replies = [Reply(200, raw=b"PK\x03\x04garbage", headers={"Content-Type": "application/zip"})]
    bulk.fake.route("GET", path, lambda c: replies.pop(0) if replies else good)
    page = client.download(job, tmp_path)
    assert page.record_count == 1
    assert bulk.fake.count("GET", path) == 2


def test_without_crc_check_a_damaged_zip_is_kept_for_the_reader(tmp_path: Path) -> None:
    bulk = FakeBulk(total=1)
    client = bulk.client(verify_crc=False)
    job = client.wait(client.create_job(BulkReadQuery("Leads")).id)
    path = f"{CRM.bulk_read_path}/{job.id}/result"
    good = bulk.result(job.id)
    assert good.raw is not None
    damaged = bytearray(good.raw)
    for header, offset in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):  # local, central
        crc_at = damaged.find(header) + offset  # the CRC-32 of the member
        damaged[crc_at : crc_at + 4] = bytes(4)
    bulk.fake.route("GET", path, lambda c: Reply(200, raw=bytes(damaged), headers=good.headers))
    page = client.download(job, tmp_path)  # one download, structure checked, CRC not read
    assert (bulk.fake.count("GET", path), page.csv_sha256) == (1, None)
    with pytest.raises(CorruptZipError, match="CRC"):
        b"".join(iter_member_bytes(page.zip_path, page.csv_member))
    unsafe = zip_bytes("../evil.csv", b"id\n1\n")  # the member rules still apply
    zip_type = {"Content-Type": "application/zip"}
    bulk.fake.route("GET", path, lambda c: Reply(200, raw=unsafe, headers=zip_type))
    with pytest.raises(ZipRejectedError, match="path traversal"):
        client.download(job, tmp_path / "again")


def test_next_query() -> None:
    client = FakeBulk().client()
    q = BulkReadQuery("Leads", fields=("A",))
    from connectors.bulk_read import JobResult

    done = BulkReadJob(
        "1",
        JobState.COMPLETED,
        "COMPLETED",
        JobResult(page=1, count=2, more_records=True, download_url="/x", next_page_token="t2"),
    )
    nxt = client.next_query(q, done)
    assert nxt is not None
    assert (nxt.page_token, nxt.page, nxt.fields) == ("t2", 2, ("A",))
    last = BulkReadJob(
        "2",
        JobState.COMPLETED,
        "COMPLETED",
        JobResult(page=2, count=1, more_records=False, download_url="/x"),
    )
    assert client.next_query(q, last) is None
    no_token = BulkReadJob(
        "3",
        JobState.COMPLETED,
        "COMPLETED",
        JobResult(page=4, count=1, more_records=True, download_url="/x"),
    )
    fallback = client.next_query(q, no_token)
    assert fallback is not None
    assert (fallback.page_token, fallback.page) == (None, 5)
