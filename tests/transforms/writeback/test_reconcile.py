from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.errors import ZipRejectedError
from connectors.fields import FieldSpec
from transforms.writeback.errors import ReconciliationError
from transforms.writeback.mapping import FieldMapping, WriteMapping
from transforms.writeback.reconcile import (
    ChunkOutcome,
    apply_record_ids,
    format_errors,
    parse_errors,
    read_result_csv,
    read_result_zip,
    reconcile,
    result_limits,
    summarize,
    write_results_parquet,
)
from transforms.writeback.sinks import write_record_ids_sql, write_results_warehouse
from transforms.writeback.validate import preflight

FIVE_COLUMNS = WriteMapping(
    "Contacts",
    "upsert",
    (
        FieldMapping("Last_Name", "last"),
        FieldMapping("First_Name", "first"),
        FieldMapping("Lead_Source", "src"),
        FieldMapping("Email", "email"),
        FieldMapping("Score", "score"),
    ),
    find_by="Email",
)


def result_csv(lines: list[str]) -> pa.Table:
    return read_result_csv(("\n".join(lines) + "\n").encode())


def test_parse_errors_reads_zoho_error_cells() -> None:
    cell = "MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email"
    parsed = parse_errors(cell)
    assert parsed == [
        {"code": "MANDATORY_NOT_FOUND", "fields": ["Company", "Last_Name"]},
        {"code": "DUPLICATE_DATA", "fields": ["Email"]},
    ]
    assert format_errors(parsed) == cell
    assert parse_errors("") == []
    assert parse_errors(None) == []
    assert parse_errors("LIMIT_EXCEEDED") == [{"code": "LIMIT_EXCEEDED", "fields": []}]


def test_values_that_look_like_null_are_echoed_as_sent(
    contact_fields: tuple[FieldSpec, ...],
) -> None:
    """A company "N/A" or a last name "NULL" is a value: only an empty cell is no value."""
    source = pa.table(
        {
            "last": ["NULL", "nan"],
            "first": ["NA", "N/A"],
            "src": ["Web", "Web"],
            "email": ["n1@x.io", "n2@x.io"],
            "score": [1, 2],
        }
    )
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    result = result_csv(
        [
            "Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS",
            "NULL,NA,Web,ADDED,4150868000000000001,",
            '"nan","N/A",Web,ADDED,4150868000000000002,',
        ]
    )
    assert result.column("Last_Name").to_pylist() == ["NULL", "nan"]
    results = reconcile(pre, [ChunkOutcome(0, pre.valid_rows, "78", result=result)])
    assert results.column("status").to_pylist() == ["ADDED", "ADDED"]


def test_reconcile_with_only_three_echoed_columns(contact_fields: tuple[FieldSpec, ...]) -> None:
    source = pa.table(
        {
            "last": ["A", None, "C", "D", "E"],
            "first": ["a", "b", "c", "d", "e"],
            "src": ["Web", "Web", "Web", None, "Web"],
            "email": ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "a@x.io"],
            "score": [1, 2, 3, 4, 5],
        }
    )
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    assert list(pre.rejected_rows) == [1, 4]  # Last_Name empty, Email repeated
    sent = pre.valid_rows  # rows 0, 2, 3 -> one chunk
    result = result_csv(
        [
            "Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS",
            "A,a,Web,ADDED,4150868000000000001,",
            "C,c,Web,UPDATED,4150868000000000002,",
            'D,d,,UNPROCESSED,,"MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email"',
        ]
    )
    results = reconcile(pre, [ChunkOutcome(0, sent, "77", result=result)])
    assert results.column("status").to_pylist() == [
        "ADDED",
        "REJECTED",
        "UPDATED",
        "FAILED",
        "REJECTED",
    ]
    assert results.column("key").to_pylist() == ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "a@x.io"]
    assert results.column("record_id").to_pylist() == [
        "4150868000000000001",
        None,
        "4150868000000000002",
        None,
        None,
    ]
    assert results.column("errors").to_pylist()[3][1] == {
        "code": "DUPLICATE_DATA",
        "fields": ["Email"],
    }
    assert results.column("errors").to_pylist()[1] == [
        {"code": "MANDATORY_NOT_FOUND", "fields": ["Last_Name"]}
    ]
    assert results.column("job_id").to_pylist() == ["77", None, "77", "77", None]
    counts = summarize(results)
    assert counts == {"added": 1, "updated": 1, "skipped": 0, "failed": 1, "rejected": 2, "rows": 5}


def test_misaligned_results_are_refused(contact_fields: tuple[FieldSpec, ...]) -> None:
    source = pa.table(
        {
            "last": ["A", "B"],
            "first": ["a", "b"],
            "src": ["Web", "Web"],
            "email": ["a@x.io", "b@x.io"],
            "score": [1, 2],
        }
    )
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    swapped = result_csv(
        [
            "Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS",
            "B,b,Web,ADDED,2,",
            "A,a,Web,ADDED,1,",
        ]
    )
    with pytest.raises(ReconciliationError, match="row 0 column Last_Name is 'B'"):
        reconcile(pre, [ChunkOutcome(0, np.arange(2), "9", result=swapped)])
    short = result_csv(
        ["Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS", "A,a,Web,ADDED,1,"]
    )
    with pytest.raises(ReconciliationError, match="1 result rows for 2 rows sent"):
        reconcile(pre, [ChunkOutcome(0, np.arange(2), "9", result=short)])
    with pytest.raises(ReconciliationError, match="1 input rows have no outcome"):
        reconcile(pre, [ChunkOutcome(0, np.arange(1), "9", result=short)])
    with pytest.raises(ReconciliationError, match="no STATUS"):
        result_csv(["Last_Name,RECORD_ID,ERRORS", "A,1,"])


def test_unknown_status_is_reported_per_row_not_guessed(
    contact_fields: tuple[FieldSpec, ...],
) -> None:
    source = pa.table(
        {
            "last": ["A", "B", "C"],
            "first": ["a", "b", "c"],
            "src": ["Web", "Web", "Web"],
            "email": ["a@x.io", "b@x.io", "c@x.io"],
            "score": [1, 2, 3],
        }
    )
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    odd = result_csv(
        [
            "Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS",
            "A,a,Web,Weird,1,",
            "B,b,Web,ADDED,2,",
            "C,c,Web,HALF_DONE,3,INVALID_DATA-Email",
        ]
    )
    results = reconcile(pre, [ChunkOutcome(0, np.arange(3), "9", result=odd)])
    assert results.column("status").to_pylist() == ["UNKNOWN", "ADDED", "UNKNOWN"]
    messages = results.column("message").to_pylist()
    assert messages[0] == "unknown STATUS value 'Weird' in the result of job 9"
    assert messages[2] == (
        "unknown STATUS value 'HALF_DONE' in the result of job 9; INVALID_DATA-Email"
    )
    assert results.column("errors").to_pylist()[2] == [
        {"code": "INVALID_DATA", "fields": ["Email"]}
    ]
    counts = summarize(results)
    assert (counts["unknown"], counts["added"], counts["rows"]) == (2, 1, 3)


def test_failed_job_marks_its_rows_failed(contact_fields: tuple[FieldSpec, ...]) -> None:
    source = pa.table(
        {
            "last": ["A", "B"],
            "first": ["a", "b"],
            "src": ["Web", "Web"],
            "email": ["a@x.io", "b@x.io"],
            "score": [1, 2],
        }
    )
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    results = reconcile(pre, [ChunkOutcome(0, np.arange(2), "9", failure="job status 'FAILED'")])
    assert results.column("status").to_pylist() == ["FAILED", "FAILED"]
    assert results.column("errors").to_pylist()[0] == [{"code": "JOB_FAILED", "fields": []}]
    assert summarize(results)["failed"] == 2


def test_result_zip_reading() -> None:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as zf:
        zf.writestr(
            "Contacts-bulkwrite.csv",
            "Last_Name,STATUS,RECORD_ID,ERRORS\nA,ADDED,4150868000000000001,\n",
        )
    table = read_result_zip(sink.getvalue())
    assert table.column("RECORD_ID").to_pylist() == ["4150868000000000001"]
    with pytest.raises(ReconciliationError, match="not a valid zip"):
        read_result_zip(b"nope", "5")


HEADER = b"Last_Name,Company,STATUS,RECORD_ID,ERRORS\n"
REPO = Path(__file__).resolve().parents[3]


def zip_bomb(inflated: int, *, declared: int | None = None, encrypted: bool = False) -> bytes:
    """A result zip whose one CSV inflates to ``inflated`` bytes (a header, then zeros).

    ``declared`` overwrites the uncompressed size the headers state (a lying bomb);
    ``encrypted`` sets the encryption flag. Built streaming: memory stays small.
    """
    sink = io.BytesIO()
    with (
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("Leads-bomb.csv", "w") as member,
    ):
        member.write(HEADER)
        zeros = bytes(1 << 20)
        left = inflated - len(HEADER)
        while left > 0:
            member.write(zeros[: min(left, len(zeros))])
            left -= len(zeros)
    data = bytearray(sink.getvalue())
    central = data.index(b"PK\x01\x02")
    if declared is not None:
        struct.pack_into("<I", data, 22, declared)  # local header: uncompressed size
        struct.pack_into("<I", data, central + 24, declared)  # central directory entry
    if encrypted:
        for flags in (6, central + 8):
            struct.pack_into("<H", data, flags, struct.unpack_from("<H", data, flags)[0] | 1)
    return bytes(data)


@pytest.mark.parametrize("declared", [None, 1000], ids=["honest-sizes", "lying-sizes"])
def test_a_zip_bomb_as_a_write_result_is_refused_with_bounded_memory(
    tmp_path: Path, declared: int | None
) -> None:
    bomb = zip_bomb(400 * 2**20, declared=declared)
    assert len(bomb) < 500_000  # the case: a ~400 KB zip of 400 MB
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb)
    run = subprocess.run(
        [sys.executable, "-m", "tests.transforms.writeback.hostile_result", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    outcome = json.loads(run.stdout.splitlines()[-1])
    # honest sizes: refused by the capped reader; lying ones fail the client's CRC check first
    assert (outcome["error"], outcome["code"]) in {
        ("ZipRejectedError", "ZIP_TOO_LARGE"),
        ("ZipRejectedError", "ZIP_RATIO"),
        ("CorruptZipError", "CORRUPT_ZIP"),
    }
    assert outcome["peak_after_mb"] - outcome["peak_before_mb"] < 100


def test_result_limits_follow_what_was_sent() -> None:
    sent = io.BytesIO()
    with zipfile.ZipFile(sent, "w") as archive:
        archive.writestr("Leads.csv", "Last_Name\n" + "x\n" * 1000)
    limits = result_limits(sent.getvalue(), rows=1000)
    assert limits.max_member_bytes == 2**20 + len("Last_Name\n") + 2000 + 1000 * 4096
    small = zip_bomb(limits.max_member_bytes + 1)
    with pytest.raises(ZipRejectedError) as refused:
        read_result_zip(small, "7", limits)
    assert refused.value.code == "ZIP_TOO_LARGE"
    assert "job 7 result" in str(refused.value)


def test_a_bomb_that_lies_about_its_size_stops_at_the_cap() -> None:
    limits = result_limits()
    bomb = zip_bomb(limits.max_member_bytes + 2**20, declared=1000)
    with pytest.raises(ZipRejectedError) as refused:
        read_result_zip(bomb, "7", limits)
    assert refused.value.code in {"ZIP_TOO_LARGE", "ZIP_RATIO"}


@pytest.mark.parametrize(
    ("name", "code"),
    [("../Leads.csv", "ZIP_PATH_TRAVERSAL"), ("Leads.exe", "ZIP_UNEXPECTED_MEMBER")],
)
def test_result_member_names_are_checked(name: str, code: str) -> None:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr(name, HEADER)
    with pytest.raises(ZipRejectedError) as refused:
        read_result_zip(sink.getvalue(), "8")
    assert refused.value.code == code


def test_an_encrypted_result_is_a_classified_error() -> None:
    with pytest.raises(ZipRejectedError) as refused:
        read_result_zip(zip_bomb(1000, encrypted=True), "9")
    assert refused.value.code == "ZIP_ENCRYPTED"


def test_outputs_parquet_duckdb_and_record_ids(
    contact_fields: tuple[FieldSpec, ...], tmp_path: Path
) -> None:
    source = pa.table(
        {
            "last": ["A", "B"],
            "first": ["a", "b"],
            "src": ["Web", "Web"],
            "email": ["a@x.io", "b@x.io"],
            "score": [1, 2],
        }
    )
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    result = result_csv(
        [
            "Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS",
            "A,a,Web,ADDED,11,",
            "B,b,Web,UNPROCESSED,,INVALID_DATA-Email",
        ]
    )
    results = reconcile(pre, [ChunkOutcome(0, np.arange(2), "9", result=result)])
    path = write_results_parquet(results, tmp_path / "out" / "results.parquet")
    assert pq.read_table(path).equals(results)
    with_ids = apply_record_ids(source, results)
    assert with_ids.column("zoho_id").to_pylist() == ["11", None]
    again = apply_record_ids(with_ids.set_column(5, "zoho_id", pa.array([None, "22"])), results)
    assert again.column("zoho_id").to_pylist() == ["11", "22"]

    import duckdb

    url = f"duckdb:///{tmp_path / 'wh.db'}"
    assert write_results_warehouse(results, url, "contact_results") == 2
    assert write_results_warehouse(results, url, "contact_results", mode="append") == 2
    with duckdb.connect(str(tmp_path / "wh.db")) as con:
        con.execute("create table src (email varchar, zoho_id varchar)")
        con.execute("insert into src values ('a@x.io', null), ('b@x.io', null)")
        rows = con.execute('select status, errors from contact_results where "row" = 1').fetchall()
    assert rows == [("FAILED", [{"code": "INVALID_DATA", "fields": ["Email"]}])] * 2
    assert write_record_ids_sql(results, url, "src", "email", "zoho_id") == 1
    with duckdb.connect(str(tmp_path / "wh.db")) as con:
        assert con.execute("select * from src order by email").fetchall() == [
            ("a@x.io", "11"),
            ("b@x.io", None),
        ]


@pytest.mark.postgres
def test_postgres_results_and_record_ids(
    contact_fields: tuple[FieldSpec, ...], pg_url: str
) -> None:
    import sqlalchemy as sa

    source = pa.table(
        {"last": ["A", "B"], "first": ["a", "b"], "src": ["Web", "Web"],
         "email": ["pa@x.io", "pb@x.io"], "score": [1, 2]}
    )  # fmt: skip
    pre = preflight(source, FIVE_COLUMNS, contact_fields)
    result = result_csv(
        ["Last_Name,First_Name,Lead_Source,STATUS,RECORD_ID,ERRORS",
         "A,a,Web,ADDED,11,", "B,b,Web,UNPROCESSED,,INVALID_DATA-Email:LIMIT_EXCEEDED-Last_Name"]
    )  # fmt: skip
    results = reconcile(pre, [ChunkOutcome(0, np.arange(2), "9", result=result)])
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE IF EXISTS "wbSource"')
            conn.exec_driver_sql('CREATE TABLE "wbSource" (email text, zoho_id text)')
            conn.exec_driver_sql(
                "INSERT INTO \"wbSource\" VALUES ('pa@x.io', NULL), ('pb@x.io', NULL)"
            )
        assert write_results_warehouse(results, pg_url, "wbResults") == 2
        assert write_results_warehouse(results, pg_url, "wbResults", mode="append") == 2
        assert write_record_ids_sql(results, pg_url, "wbSource", "email", "zoho_id") == 1
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                'SELECT status, errors, "row" FROM "wbResults" ORDER BY "row", status'
            ).fetchall()
            ids = conn.exec_driver_sql('SELECT * FROM "wbSource" ORDER BY email').fetchall()
        assert len(rows) == 4
        assert rows[2][:2] == ("FAILED", "INVALID_DATA-Email:LIMIT_EXCEEDED-Last_Name")
        assert ids == [("pa@x.io", "11"), ("pb@x.io", None)]
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE IF EXISTS "wbSource"')
            conn.exec_driver_sql('DROP TABLE IF EXISTS "wbResults"')
        engine.dispose()
