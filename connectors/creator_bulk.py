"""Creator Bulk Read v2.1: create a job, poll it, download its zip, chain jobs by cursor.

A job reads 100,000-200,000 records (in thousands); when more remain its result carries a
``record_cursor`` that lives 15 minutes and is the *only* thing the next job may be given.
``iter_batches`` therefore creates the next job as soon as a job completes, before the caller
converts the current batch. When Creator refuses a cursor anyway (the caller held a batch past
the 15 minutes), the current batch is still yielded, then ``CreatorCursorExpiredError`` says
which ID was read last; ``CreatorBulkQuery.resumed_after(last_id)`` continues from there
(records come in ID order: the simulator's order; Zoho's is UNCERTAIN).
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from connectors.bulk_read import PollPolicy
from connectors.creator import CreatorClient
from connectors.creator_api import (
    API_ROOT,
    BULK_JOB_PATH,
    BULK_MAX_RECORDS,
    BULK_MIN_RECORDS,
    BULK_READ_PATH,
    LEGACY_BULK_PREFIXES,
    bulk_status,
)
from connectors.creator_errors import CreatorCursorExpiredError
from connectors.credits import CallType
from connectors.errors import (
    BulkJobFailedError,
    InvalidRequestError,
    JobTimeoutError,
    QueryValidationError,
    UnexpectedResponseError,
)
from connectors.zipcheck import verify_zip

log = logging.getLogger("connectors.creator_bulk")


@dataclass(frozen=True)
class CreatorBulkQuery:
    """What a bulk read reads: fields (None: all), a Creator criteria string, batch size."""

    fields: tuple[str, ...] | None = None
    criteria: str | None = None
    max_records: int = BULK_MAX_RECORDS

    def __post_init__(self) -> None:
        size = self.max_records
        if not BULK_MIN_RECORDS <= size <= BULK_MAX_RECORDS or size % 1000:
            raise QueryValidationError(
                f"max_records must be {BULK_MIN_RECORDS}-{BULK_MAX_RECORDS} in thousands, "
                f"got {size}"
            )
        if self.criteria is not None and not self.criteria.strip():
            raise QueryValidationError("an empty criteria; leave it out to read every record")

    def body(self) -> dict[str, Any]:
        query: dict[str, Any] = {"max_records": self.max_records}
        if self.fields is not None:
            query["fields"] = list(self.fields)
        if self.criteria is not None:
            query["criteria"] = self.criteria
        return {"query": query}

    def resumed_after(self, last_id: str) -> CreatorBulkQuery:
        """The same query for the records after ``last_id`` (IDs are numbers)."""
        if not last_id.isdigit():
            raise QueryValidationError(f"a Creator record ID is a number, got {last_id!r}")
        after = f"ID > {last_id}"
        return replace(self, criteria=f"({self.criteria}) && {after}" if self.criteria else after)


@dataclass(frozen=True)
class CreatorBulkJob:
    id: str
    status: str  # running | completed | failed
    count: int | None = None
    download_path: str | None = None
    record_cursor: str | None = None


@dataclass(frozen=True)
class CreatorBatch:
    """One downloaded job of a chain."""

    sequence: int
    job_id: str
    zip_path: Path
    count: int
    more: bool


class CreatorBulkReader:
    def __init__(self, client: CreatorClient, poll: PollPolicy | None = None) -> None:
        self.client = client
        self.poll = poll or PollPolicy()

    def create(
        self, owner: str, app: str, report: str, query: CreatorBulkQuery | None = None,
        *, record_cursor: str | None = None,
    ) -> CreatorBulkJob:  # fmt: skip
        """A new job: from a query, or (the next batch) from a cursor and nothing else."""
        if record_cursor is not None and query is not None:
            raise QueryValidationError("a cursor job takes no fields, criteria or max_records")
        body = {"query": {"record_cursor": record_cursor}} if record_cursor else None
        url = self.client.url(BULK_READ_PATH, owner=owner, app=app, report=report)
        _, payload = self.client.call(
            "POST", url, call_type=CallType.BULK_READ_CREATE,
            json=body or (query or CreatorBulkQuery()).body(),
        )  # fmt: skip
        return _job(payload, url)

    def status(self, owner: str, app: str, report: str, job_id: str) -> CreatorBulkJob:
        url = self.client.url(BULK_JOB_PATH, owner=owner, app=app, report=report, job_id=job_id)
        _, payload = self.client.call("GET", url, call_type=CallType.BULK_READ_STATUS)
        return _job(payload, url)

    def wait(self, owner: str, app: str, report: str, job_id: str) -> CreatorBulkJob:
        started = self.poll.clock()
        for interval in self.poll.intervals():
            job = self.status(owner, app, report, job_id)
            if job.status == "completed":
                return job
            if job.status == "failed":
                raise BulkJobFailedError(f"Creator bulk read job {job_id} failed", job_id=job_id)
            if self.poll.clock() - started > self.poll.timeout:
                raise JobTimeoutError(f"job {job_id} still running", job_id=job_id)
            self.poll.sleep(interval)
        raise AssertionError("unreachable")  # pragma: no cover

    def download(self, job: CreatorBulkJob, dest: Path) -> Path:
        """The job's zip at ``dest``, verified (one CSV, CRC)."""
        url = self.client.api_domain + download_path(job)
        self.client.http.download_to(url, dest, call_type=CallType.BULK_READ_DOWNLOAD)
        verify_zip(dest)
        return dest

    def iter_batches(
        self, owner: str, app: str, report: str, query: CreatorBulkQuery, dest_dir: Path
    ) -> Iterator[CreatorBatch]:
        """Every batch of the query, each job created before the previous batch is handed out."""
        job = self.create(owner, app, report, query)
        sequence = 0
        while True:
            done = self.wait(owner, app, report, job.id)
            next_job: CreatorBulkJob | None = None
            refused: InvalidRequestError | None = None
            if done.record_cursor:
                try:
                    next_job = self.create(owner, app, report, record_cursor=done.record_cursor)
                except InvalidRequestError as exc:  # the cursor is all it was given
                    refused = exc
            zip_path = self.download(done, dest_dir / f"creator-{done.id}.zip")
            sequence += 1
            more = bool(done.record_cursor)
            yield CreatorBatch(sequence, done.id, zip_path, done.count or 0, more)
            if refused is not None:
                last_id = last_record_id(zip_path)
                raise CreatorCursorExpiredError(
                    f"Creator refused the record_cursor of job {done.id} ({refused.code})",
                    last_id=last_id,
                    code="CURSOR_EXPIRED",
                    method="POST",
                    path=self.client.url(BULK_READ_PATH, owner=owner, app=app, report=report),
                )
            if next_job is None:
                return
            job = next_job


def download_path(job: CreatorBulkJob) -> str:
    """The v2.1 path of a job's result, from a relative or legacy ``download_url``."""
    path = job.download_path or ""
    if "://" in path:
        raise UnexpectedResponseError(
            "a Creator download_url with a host; only paths are followed (the token stays on "
            "the API host)"
        )
    for legacy in LEGACY_BULK_PREFIXES:
        if path.startswith(legacy):
            path = f"{API_ROOT}/bulk/" + path[len(legacy) :]
    if not path.startswith(API_ROOT + "/bulk/"):
        raise UnexpectedResponseError(f"job {job.id} has no usable download_url")
    return path.rstrip("/")


def last_record_id(zip_path: Path) -> str | None:
    """The ``ID`` of the last row of a batch's CSV (None when it has no rows)."""
    with zipfile.ZipFile(zip_path) as archive:
        (name,) = archive.namelist()
        with archive.open(name) as raw:
            last: Sequence[str] | None = None
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
            header = next(reader, None)
            for row in reader:
                last = row
    if header is None or last is None or "ID" not in header:
        return None
    return last[header.index("ID")]


def _job(payload: Any, url: str) -> CreatorBulkJob:
    details = payload.get("details") if isinstance(payload, dict) else None
    if not isinstance(details, dict) or "id" not in details:
        raise UnexpectedResponseError("a bulk read answer without details.id", path=url)
    try:
        status = bulk_status(details.get("status"))
    except ValueError as exc:
        raise UnexpectedResponseError(str(exc), path=url) from None
    raw_result = details.get("result")
    result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
    count = result.get("count")
    return CreatorBulkJob(
        id=str(details["id"]),
        status=status,
        count=int(count) if count is not None else None,
        download_path=result.get("download_url"),
        record_cursor=result.get("record_cursor") or None,
    )
