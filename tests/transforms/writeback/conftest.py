"""Shared test data for write-back: a Contacts field list and an in-memory bulk writer."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from typing import Any

import pytest

from connectors.fields import FieldSpec

CONTACT_FIELDS = (
    FieldSpec("Last_Name", "text", length=20, mandatory=True),
    FieldSpec("First_Name", "text", length=20),
    FieldSpec("Email", "email", unique=True),
    FieldSpec("Lead_Status", "picklist", picklist_values=("Active", "Lost", "New")),
    FieldSpec("Interests", "multiselectpicklist", picklist_values=("A", "B", "C")),
    FieldSpec("Amount", "currency", decimal_place=2),
    FieldSpec("Score", "integer"),
    FieldSpec("Opt_In", "boolean"),
    FieldSpec("Date_of_Birth", "date"),
    FieldSpec("Last_Call", "datetime"),
    FieldSpec("Account_Name", "lookup", lookup_module="Accounts"),
    FieldSpec("Lead_Source", "picklist", picklist_values=("Web", "Trade Show")),
    FieldSpec("Created_Time", "datetime", read_only=True),
)


@pytest.fixture
def contact_fields() -> tuple[FieldSpec, ...]:
    return CONTACT_FIELDS


class FakeWriter:
    """A stand-in transport: every row whose first column says FAIL comes back UNPROCESSED.

    It keeps the calls it received so tests can prove nothing was sent twice, and can be
    told to crash right after a given step of a given chunk.
    """

    def __init__(self, echo_columns: int = 3, crash_after: tuple[str, int] | None = None) -> None:
        self.echo_columns = echo_columns
        self.crash_after = crash_after
        self.uploads: list[bytes] = []
        self.jobs: dict[str, Mapping[str, Any]] = {}
        self.waited: list[str] = []
        self.next_id = 1000
        self.events: list[str] = []

    def _maybe_crash(self, step: str) -> None:
        if self.crash_after == (step, len(self.uploads) - 1):
            self.crash_after = None
            raise KeyboardInterrupt(f"simulated crash after {step}")

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        self.uploads.append(zip_bytes)
        self.events.append(f"upload{len(self.uploads) - 1}")
        self._maybe_crash("upload")
        return f"file-{len(self.uploads) - 1}"

    def create_job(self, body: Mapping[str, Any]) -> str:
        self.next_id += 1
        job_id = str(self.next_id)
        self.jobs[job_id] = body
        self.events.append(f"create{job_id}")
        self._maybe_crash("create")
        return job_id

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        self.waited.append(job_id)
        self.events.append(f"wait{job_id}")
        self._maybe_crash("wait")
        return {
            "id": job_id,
            "status": "COMPLETED",
            "resource": [{"status": "COMPLETED", "file": {"total_count": 1}}],
            "result": {"download_url": f"https://download.example/{job_id}.zip"},
        }

    def job_rows(self, job_id: str) -> list[list[str]]:
        body = self.jobs[job_id]
        file_index = int(body["resource"][0]["file_id"].split("-")[1])
        with zipfile.ZipFile(io.BytesIO(self.uploads[file_index])) as zf:
            text = zf.read(zf.namelist()[0]).decode()
        return list(csv.reader(io.StringIO(text)))

    def rows_in_jobs(self, column: int = 1) -> list[str]:
        """Every data row's ``column`` over all jobs created (duplicates would show)."""
        return [row[column] for job in self.jobs for row in self.job_rows(job)[1:]]

    def download_result(self, download_url: str) -> bytes:
        job_id = download_url.rsplit("/", 1)[1].removesuffix(".zip")
        rows = self.job_rows(job_id)
        header, data = rows[0], rows[1:]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*header[: self.echo_columns], "STATUS", "RECORD_ID", "ERRORS"])
        for n, row in enumerate(data):
            if row[0] == "FAIL":
                writer.writerow(
                    [*row[: self.echo_columns], "UNPROCESSED", "", "INVALID_DATA-Email"]
                )
            else:
                rid = f"4150868{int(job_id):06d}{n:06d}"
                writer.writerow([*row[: self.echo_columns], "ADDED", rid, ""])
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as zf:
            zf.writestr("Contacts-bulkwrite.csv", out.getvalue())
        return sink.getvalue()


@pytest.fixture
def fake_writer() -> FakeWriter:
    return FakeWriter()
