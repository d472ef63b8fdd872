from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from connectors.creator_bulk import (
    CreatorBatch,
    CreatorBulkJob,
    CreatorBulkQuery,
    download_path,
    last_record_id,
)
from connectors.creator_errors import CreatorCursorExpiredError
from connectors.errors import (
    BulkJobFailedError,
    QueryValidationError,
    RetriableError,
    UnexpectedResponseError,
)
from simulator.creator.state import PROSE_STATUS
from simulator.testing import SimServer
from tests.connectors.creatorhelpers import OWNER, bulk_reader, creator_client, sim_creator

APP, REPORT = "order-desk", "All_Orders"


def _ids(batch: CreatorBatch) -> list[str]:
    with zipfile.ZipFile(batch.zip_path) as archive:
        (name,) = archive.namelist()
        options = pacsv.ConvertOptions(column_types={"ID": pa.string()}, include_columns=["ID"])
        table = pacsv.read_csv(io.BytesIO(archive.read(name)), convert_options=options)
    return table["ID"].to_pylist()  # type: ignore[no-any-return]


def test_450000_records_through_3_chained_jobs_each_once(sim: SimServer, tmp_path: Path) -> None:
    creator = sim_creator(sim)
    creator.configure(records={"order-desk/Order": 450_000})
    reader = bulk_reader(creator_client(sim))
    query = CreatorBulkQuery(fields=("Order_Name", "Status"))
    batches: Iterator[CreatorBatch] = reader.iter_batches(OWNER, APP, REPORT, query, tmp_path)
    ids: list[str] = []
    jobs_when_handed_out: list[int] = []
    for batch in batches:
        jobs_when_handed_out.append(len(creator.jobs))
        ids += _ids(batch)
    assert len(ids) == len(set(ids)) == 450_000
    assert jobs_when_handed_out == [2, 3, 3]  # the next job exists before a batch is converted
    calls = reader.client.http.meter.report().calls
    assert calls["bulk_read_create"] == 3
    assert calls["bulk_read_download"] == 3


def test_an_expired_cursor_is_classified_and_resumable(sim: SimServer, tmp_path: Path) -> None:
    creator = sim_creator(sim)
    creator.configure(records={"order-desk/Order": 320_000})
    reader = bulk_reader(creator_client(sim))
    query = CreatorBulkQuery(fields=("Order_Name",), max_records=100_000)
    ids: list[str] = []

    def convert_slowly() -> None:
        for batch in reader.iter_batches(OWNER, APP, REPORT, query, tmp_path):
            ids.extend(_ids(batch))
            if batch.sequence == 1:
                sim.state.clock.advance(16 * 60)  # a slow conversion: job 2's cursor expires

    with pytest.raises(CreatorCursorExpiredError) as caught:
        convert_slowly()
    error = caught.value
    assert isinstance(error, RetriableError)
    assert len(ids) == 200_000  # batch 2 was still handed out
    assert error.last_id == ids[-1]
    resumed = query.resumed_after(error.last_id)
    for batch in reader.iter_batches(OWNER, APP, REPORT, resumed, tmp_path):
        ids += _ids(batch)
    assert len(ids) == len(set(ids)) == 320_000


def test_prose_status_spellings_and_legacy_download_url(sim: SimServer, tmp_path: Path) -> None:
    creator = sim_creator(sim)
    creator.configure(status_spelling=dict(PROSE_STATUS), legacy_download_url=True)
    reader = bulk_reader(creator_client(sim))
    batches = list(reader.iter_batches(OWNER, APP, REPORT, CreatorBulkQuery(), tmp_path))
    assert [b.count for b in batches] == [2_500]
    assert len(_ids(batches[0])) == 2_500
    assert last_record_id(batches[0].zip_path) == _ids(batches[0])[-1]


def test_a_failed_job_is_a_bulk_job_failure(sim: SimServer, tmp_path: Path) -> None:
    sim_creator(sim)
    sim.state.add_fault("job_failure", path="/creator/v2.1/bulk/*")
    reader = bulk_reader(creator_client(sim))
    with pytest.raises(BulkJobFailedError):
        next(reader.iter_batches(OWNER, APP, REPORT, CreatorBulkQuery(), tmp_path))


def test_query_checks_and_resume_criteria() -> None:
    for size in (99_000, 201_000, 150_500):
        with pytest.raises(QueryValidationError):
            CreatorBulkQuery(max_records=size)
    with pytest.raises(QueryValidationError):
        CreatorBulkQuery(criteria=" ")
    query = CreatorBulkQuery(fields=("A",), criteria='Status == "Open"', max_records=150_000)
    assert query.body() == {
        "query": {"max_records": 150_000, "fields": ["A"], "criteria": 'Status == "Open"'}
    }
    assert query.resumed_after("42").criteria == '(Status == "Open") && ID > 42'
    assert CreatorBulkQuery().resumed_after("7").criteria == "ID > 7"
    with pytest.raises(QueryValidationError):
        query.resumed_after("7; drop")


def test_download_paths_relative_legacy_and_foreign() -> None:
    def job(url: str | None) -> CreatorBulkJob:
        return CreatorBulkJob("1", "completed", 1, url)

    rel = "/creator/v2.1/bulk/o/a/report/r/read/1/result"
    assert download_path(job(rel)) == rel
    assert download_path(job("/api/bulk/v2.1/o/a/report/r/read/1/result/")) == rel
    for bad in ("https://evil.example/creator/v2.1/bulk/x", None, "/crm/bulk/v8/read/1/result"):
        with pytest.raises(UnexpectedResponseError):
            download_path(job(bad))
