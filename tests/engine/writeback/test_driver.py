from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.fields import FieldSpec
from engine.ledger import Ledger
from engine.writeback.driver import resume_write, retry_failed_rows, write_table
from engine.writeback.state import SavedWrite
from tests.transforms.writeback.conftest import FakeWriter
from transforms.writeback.errors import InvalidRowsError, ResumeStateError
from transforms.writeback.mapping import FieldMapping, WriteMapping
from transforms.writeback.validate import PreflightPolicy

MAPPING = WriteMapping(
    "Contacts",
    "insert",
    (
        FieldMapping("Last_Name", "last"),
        FieldMapping("Email", "email"),
        FieldMapping("Lead_Source", "src", default_value="Web"),
    ),
    key="no",
)


def source(n: int, fail_every: int = 0, bad_every: int = 0) -> pa.Table:
    last = [
        "FAIL"
        if fail_every and i % fail_every == 1
        else (None if bad_every and i % bad_every == 2 else f"L{i}")
        for i in range(n)
    ]
    return pa.table(
        {
            "no": [f"n{i}" for i in range(n)],
            "last": last,
            "email": [f"p{i}@x.io" for i in range(n)],
            "src": [None] * n,
        }
    )


def test_dry_run_costs_nothing_and_plans_jobs(contact_fields: tuple[FieldSpec, ...]) -> None:
    report = write_table(
        source(25, bad_every=10), MAPPING, contact_fields, dry_run=True, max_rows_per_job=10
    )
    assert report.results is None
    assert report.preflight["rejected"] == 3
    assert report.preflight["valid"] == 22
    assert [c.rows for c in report.chunks] == [10, 10, 2]
    assert report.credits_estimate == 1500
    assert report.preflight["issues"] == {"MANDATORY_NOT_FOUND-Last_Name": 3}
    assert report.issues is not None
    assert report.issues.column("key").to_pylist() == ["n2", "n12", "n22"]
    json.dumps(report.to_dict())


def test_write_reconciles_every_row(
    contact_fields: tuple[FieldSpec, ...], fake_writer: FakeWriter, tmp_path: Path
) -> None:
    table = source(30, fail_every=4, bad_every=10)
    seen: list[str] = []
    report = write_table(
        table,
        MAPPING,
        contact_fields,
        fake_writer,
        max_rows_per_job=10,
        results_parquet=tmp_path / "r.parquet",
        warehouse_url=f"duckdb:///{tmp_path / 'w.db'}",
        on_progress=lambda run: seen.append(run.state),
    )
    c = report.counts
    assert c["rows"] == 30 == c["added"] + c["updated"] + c["skipped"] + c["failed"] + c["rejected"]
    assert c["rejected"] == 3
    assert c["failed"] == 8
    assert c["added"] == 19
    assert len(fake_writer.uploads) == len(fake_writer.jobs) == 3
    assert seen.count("done") == 3
    body = next(iter(fake_writer.jobs.values()))
    assert body["operation"] == "insert"
    assert body["character_encoding"] == "UTF-8"
    assert body["resource"][0]["field_mappings"][2] == {
        "api_name": "Lead_Source",
        "index": 2,
        "default_value": {"value": "Web"},
    }
    assert report.results is not None
    assert report.results.column("key").to_pylist()[:3] == ["n0", "n1", "n2"]
    assert pq.read_table(tmp_path / "r.parquet").num_rows == 30
    assert report.warehouse_table == "writeback_contacts_results"


def test_stop_policy_sends_nothing(
    contact_fields: tuple[FieldSpec, ...], fake_writer: FakeWriter
) -> None:
    with pytest.raises(InvalidRowsError):
        write_table(
            source(12, bad_every=10),
            MAPPING,
            contact_fields,
            fake_writer,
            policy=PreflightPolicy(on_invalid="stop"),
        )
    assert fake_writer.uploads == []


def test_failed_job_rows_are_failed(contact_fields: tuple[FieldSpec, ...]) -> None:
    class FailingWriter(FakeWriter):
        def wait_for_job(self, job_id: str) -> dict[str, object]:
            return {"id": job_id, "status": "FAILED", "resource": [{"code": "INVALID_FILE_ID"}]}

    report = write_table(source(5), MAPPING, contact_fields, FailingWriter())
    assert report.counts["failed"] == 5
    assert report.chunks[0].state == "failed"
    assert "INVALID_FILE_ID" in (report.chunks[0].failure or "")


@pytest.mark.parametrize("step", ["upload", "wait"])
def test_resume_after_a_crash_sends_no_row_twice(
    contact_fields: tuple[FieldSpec, ...], ledger: Ledger, tmp_path: Path, step: str
) -> None:
    saved = SavedWrite(ledger, "w-test", tmp_path / "s")
    writer = FakeWriter(crash_after=(step, 1))
    table = source(30, fail_every=4)
    with pytest.raises(KeyboardInterrupt):
        write_table(table, MAPPING, contact_fields, writer, state=saved, max_rows_per_job=10)
    assert [run.state for run in saved.chunks.load(saved.key)][:1] == ["created"]
    assert not list((tmp_path / "s").glob("*.json"))  # the progress is in the ledger only
    uploads_before, jobs_before = len(writer.uploads), len(writer.jobs)
    assert uploads_before == 2
    assert jobs_before == (1 if step == "upload" else 2)
    report = resume_write(saved, table, MAPPING, contact_fields, writer)
    # A crash between upload and saving its file id costs one orphan upload (no records);
    # a crash after job creation re-polls the saved job. Either way each row is in one job.
    assert len(writer.uploads) == (4 if step == "upload" else 3)
    assert len(writer.jobs) == 3
    assert sorted(writer.rows_in_jobs()) == sorted(f"p{i}@x.io" for i in range(30))
    assert report.counts["rows"] == 30
    assert report.counts["failed"] == 8
    again = resume_write(saved, table, MAPPING, contact_fields, writer)
    assert len(writer.jobs) == 3
    assert again.results is not None
    assert again.results.equals(report.results)


def test_resume_refuses_to_guess_a_lost_job_id(
    contact_fields: tuple[FieldSpec, ...], ledger: Ledger, tmp_path: Path
) -> None:
    saved = SavedWrite(ledger, "w-test", tmp_path / "s")
    writer = FakeWriter(crash_after=("create", 0))
    table = source(5)
    with pytest.raises(KeyboardInterrupt):
        write_table(table, MAPPING, contact_fields, writer, state=saved)
    with pytest.raises(ResumeStateError, match="job id was not saved"):
        resume_write(saved, table, MAPPING, contact_fields, writer)
    lost = next(iter(writer.jobs))
    report = resume_write(saved, table, MAPPING, contact_fields, writer, job_ids={0: lost})
    assert report.counts["added"] == 5
    assert len(writer.jobs) == 1
    with pytest.raises(ResumeStateError, match="already holds"):
        write_table(table, MAPPING, contact_fields, writer, state=saved)
    with pytest.raises(ResumeStateError, match="rows"):
        resume_write(saved, source(6), MAPPING, contact_fields, writer)
    changed = table.set_column(1, "last", pa.array(["Z0", "Z1", "Z2", "Z3", "Z4"]))
    with pytest.raises(ResumeStateError, match="input rows differ"):
        resume_write(saved, changed, MAPPING, contact_fields, writer)
    with pytest.raises(ResumeStateError, match="no chunk 7"):
        resume_write(saved, table, MAPPING, contact_fields, writer, job_ids={7: "1"})


def test_retry_sends_only_failed_rows(
    contact_fields: tuple[FieldSpec, ...], fake_writer: FakeWriter
) -> None:
    first = write_table(
        source(20, fail_every=4, bad_every=10), MAPPING, contact_fields, fake_writer
    )
    assert first.results is not None
    assert first.counts["failed"] == 5
    assert first.counts["rejected"] == 2
    fixed = source(20)
    uploads = len(fake_writer.uploads)
    retried = retry_failed_rows(fixed, first.results, MAPPING, contact_fields, fake_writer)
    assert len(fake_writer.uploads) == uploads + 1
    assert retried.counts == {
        "added": 20,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "rejected": 0,
        "rows": 20,
    }
    assert retried.results is not None
    assert retried.results.column("row").to_pylist() == list(range(20))
    old_ids = first.results.column("record_id").to_pylist()
    new_ids = retried.results.column("record_id").to_pylist()
    assert all(o == n for o, n in zip(old_ids, new_ids, strict=True) if o is not None)
    with pytest.raises(ValueError, match="row order"):
        retry_failed_rows(source(3), first.results, MAPPING, contact_fields, fake_writer)


@pytest.mark.parametrize(
    ("in_flight", "order"),
    [
        (1, "upload0 create1001 wait1001 upload1 create1002 wait1002 upload2 create1003 wait1003"),
        (2, "upload0 create1001 upload1 create1002 wait1001 upload2 create1003 wait1002 wait1003"),
    ],
)
def test_jobs_are_submitted_ahead_up_to_max_in_flight(
    contact_fields: tuple[FieldSpec, ...], in_flight: int, order: str
) -> None:
    writer = FakeWriter()
    report = write_table(
        source(30), MAPPING, contact_fields, writer, max_rows_per_job=10, max_in_flight=in_flight
    )
    assert " ".join(writer.events) == order
    assert report.counts["added"] == 30
    with pytest.raises(ValueError, match="max_in_flight"):
        write_table(source(3), MAPPING, contact_fields, writer, max_in_flight=0)


def test_typed_first_columns_reconcile_against_their_csv_text(
    contact_fields: tuple[FieldSpec, ...], fake_writer: FakeWriter
) -> None:
    mapping = WriteMapping(
        "Contacts",
        "insert",
        (
            FieldMapping("Amount", "amount"),
            FieldMapping("Opt_In", "opt"),
            FieldMapping("Date_of_Birth", "born"),
            FieldMapping("Last_Name", "last"),
        ),
    )
    table = pa.table(
        {
            "amount": [0.1 + 0.2, 1234567.5, None],
            "opt": [True, None, False],
            "born": pa.array([None, 0, 20000], pa.date32()),
            "last": ["a", "b", "c"],
        }
    )
    report = write_table(table, mapping, contact_fields, fake_writer)
    assert report.counts["added"] == 3
    (job,) = fake_writer.jobs
    assert fake_writer.job_rows(job)[1:] == [
        ["0.3", "true", "", "a"],
        ["1234567.5", "", "1970-01-01", "b"],
        ["", "false", "2024-10-04", "c"],
    ]
