from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from connectors.fields import FieldSpec
from transforms.csv_reader import BulkCsv
from transforms.errors import CsvFormatError, DamagedZipError
from transforms.rejects import RejectsCollector, read_rejects
from transforms.schema import build_page_schema

from .samples import CSV_TEXT, EXPECTED, EXTRACTED_AT, FIELDS, csv_page, write_zip


def read_all(
    path: Path, tmp_path: Path, block_size: int = 1 << 20
) -> tuple[BulkCsv, pa.Table, Path | None]:
    source = BulkCsv(path, block_size=block_size)
    schema = build_page_schema(source.header, FIELDS)
    rejects = RejectsCollector(tmp_path / "rejects.csv", source.label)
    batches = list(
        source.iter_batches(
            schema, module="Deals", job_id="job1", extracted_at=EXTRACTED_AT, rejects=rejects
        )
    )
    table = pa.Table.from_batches(batches, schema=schema.arrow_schema)
    return source, table, rejects.finish(source.open_text)


def test_every_type_converts_from_a_hand_made_page(tmp_path: Path) -> None:
    source, table, rejects = read_all(write_zip(tmp_path, "job1", CSV_TEXT), tmp_path)
    assert rejects is None
    assert (source.counts.rows_read, source.counts.rows_loaded, source.counts.rows_rejected) == (
        3,
        3,
        0,
    )
    for row in table.to_pylist():
        expected = EXPECTED[row["id"]]
        assert {k: row[k] for k in expected} == expected
        assert (row["_zoho_module"], row["_zoho_job_id"], row["_extracted_at"]) == (
            "Deals",
            "job1",
            EXTRACTED_AT,
        )


def test_small_blocks_stream_many_batches_with_the_same_result(tmp_path: Path) -> None:
    rows = [
        {"id": str(10**18 + i), "Name": f'name {i}\nsecond line, "quoted"', "Score": str(i)}
        for i in range(3000)
    ]
    path = write_zip(tmp_path, "big", csv_page(rows, ["id", "Name", "Score"]))
    source = BulkCsv(path, block_size=16 * 1024)
    schema = build_page_schema(source.header, FIELDS)
    rejects = RejectsCollector(tmp_path / "r.csv", source.label)
    batches = list(
        source.iter_batches(
            schema, module="M", job_id="big", extracted_at=EXTRACTED_AT, rejects=rejects
        )
    )
    assert len(batches) > 5  # bounded memory: the file never becomes one table
    table = pa.Table.from_batches(batches)
    assert table.num_rows == 3000
    assert table.column("Score").to_pylist() == list(range(3000))
    assert table.column("Name")[2999].as_py() == 'name 2999\nsecond line, "quoted"'


def test_ragged_rows_and_bad_values_go_to_rejects_with_line_numbers(tmp_path: Path) -> None:
    text = (
        "id,Name,Closing_Date,Score\n"
        '1,"multi\nline",2025-01-01,1\n'  # lines 2-3
        "2,short\n"  # line 4: ragged
        '3,"x",2025-02-30,3\n'  # line 5: bad date
        "\n"  # line 6: blank, ignored
        '4,"y\n\nz",2025-01-04,not-a-number\n'  # lines 7-9: bad integer
        "5,too,many,fields,here\n"  # line 10: ragged
        "6,fine,2025-01-06,6\n"  # line 11
    )
    source, table, rejects_path = read_all(write_zip(tmp_path, "job1", text), tmp_path)
    counts = source.counts
    assert (counts.rows_read, counts.rows_loaded, counts.rows_rejected) == (6, 2, 4)
    assert counts.reconciles
    assert table.column("id").to_pylist() == ["1", "6"]
    assert rejects_path is not None
    rejects = sorted(read_rejects(rejects_path), key=lambda r: r.record or 0)
    assert [(r.line, r.record, r.column, r.raw_value) for r in rejects] == [
        (4, 2, None, "2,short"),
        (5, 3, "Closing_Date", "2025-02-30"),
        (7, 4, "Score", "not-a-number"),
        (10, 5, None, "5,too,many,fields,here"),
    ]
    assert rejects[0].reason == "expected 4 fields, found 2"
    assert rejects[1].reason.startswith("not a valid date")
    assert {r.file for r in rejects} == {"job1.zip:job1.csv"}


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    source, table, _ = read_all(write_zip(tmp_path, "bom", "\ufeffid,Name\n1,a\n"), tmp_path)
    assert source.header == ("id", "Name")
    assert table.column("id").to_pylist() == ["1"]


def test_header_only_page_reads_zero_rows(tmp_path: Path) -> None:
    source, table, rejects = read_all(write_zip(tmp_path, "empty", "id,Name\n"), tmp_path)
    assert table.num_rows == 0
    assert source.counts.rows_read == 0
    assert rejects is None


def test_not_a_zip_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(CsvFormatError, match="not a readable zip"):
        BulkCsv(path)


def test_zip_without_csv_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.txt", "hello")
    with pytest.raises(CsvFormatError, match=r"no \.csv"):
        BulkCsv(path)


def test_member_named_after_the_zip_is_preferred(tmp_path: Path) -> None:
    path = tmp_path / "42.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("other.csv", "id\n9\n")
        archive.writestr("42.csv", "id\n1\n")
    assert BulkCsv(path).member == "42.csv"


def test_unknown_fields_are_kept_as_text(tmp_path: Path) -> None:
    fields = [FieldSpec("Score", "integer")]
    path = write_zip(tmp_path, "u", "id,Score,New_Field\n1,2,hello\n")
    source = BulkCsv(path)
    schema = build_page_schema(source.header, fields)
    assert schema.unknown_headers == ("New_Field",)


def test_invalid_utf8_stops_the_page_with_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    good = "".join(f"{i},name {i}\n" for i in range(2000)).encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bad.csv", b"id,Name\n" + good + b"9999,\xff\xfe broken\n")
    source = BulkCsv(path, block_size=4096)
    schema = build_page_schema(source.header, [])
    rejects = RejectsCollector(tmp_path / "r.csv", source.label)
    with pytest.raises(CsvFormatError, match=r"bad\.zip:bad\.csv"):
        for _ in source.iter_batches(
            schema, module="M", job_id="bad", extracted_at=EXTRACTED_AT, rejects=rejects
        ):
            pass


def test_a_consumer_stopping_early_stops_the_reading_thread(tmp_path: Path) -> None:
    rows = [{"id": str(i), "Name": "x" * 50} for i in range(5000)]
    source = BulkCsv(write_zip(tmp_path, "p", csv_page(rows, ["id", "Name"])), block_size=4096)
    schema = build_page_schema(source.header, [])
    rejects = RejectsCollector(tmp_path / "r.csv", source.label)
    batches = source.iter_batches(
        schema, module="M", job_id="p", extracted_at=EXTRACTED_AT, rejects=rejects
    )
    first = next(batches)
    batches.close()  # what happens when the warehouse fails mid-page
    assert first.num_rows > 0
    assert not [t for t in threading.enumerate() if t.name == "csv-prefetch"]


def test_a_member_with_a_bad_crc_is_a_damaged_zip_to_download_again(tmp_path: Path) -> None:
    path = write_zip(tmp_path, "job1", CSV_TEXT)
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    local = data.find(b"PK\x03\x04")
    wrong = (int.from_bytes(data[central + 16 : central + 20], "little") ^ 1).to_bytes(4, "little")
    data[local + 14 : local + 18] = wrong
    data[central + 16 : central + 20] = wrong
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedZipError, match="CRC"):
        read_all(path, tmp_path)
