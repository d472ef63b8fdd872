"""`transforms.lake.table`: one Delta table per module, checked against the DuckDB warehouse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from transforms.errors import CsvFormatError, SchemaDriftError
from transforms.lake import LakeTable
from transforms.lake.types import from_delta_schema
from transforms.warehouse import open_warehouse

DELETED_AT = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
ID = "48768760000000{:05d}"


def _sorted(table: pa.Table) -> pa.Table:
    table = table.sort_by("id")
    return table.cast(from_delta_schema(table.schema))


def _load_all(lake: LakeTable, pages: dict[str, pa.Table]) -> None:
    lake.append_page(pages["full-1"], "1001")
    lake.append_page(pages["full-2"], "1002")
    lake.merge_page(pages["incremental"], "2001")
    lake.mark_deleted([(ID.format(5), DELETED_AT)], batch_id="deleted-2001")


def test_full_incremental_and_deletes_equal_the_warehouse_row_for_row(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    _load_all(lake, pages)
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        for name in ("full-1", "full-2", "incremental"):
            warehouse.load("crm_leads", pages[name].schema, pages[name].to_batches())
        warehouse.mark_deleted("crm_leads", [(ID.format(5), DELETED_AT)])
        expected = _sorted(warehouse.read_table("crm_leads"))
    finally:
        warehouse.close()
    got = _sorted(lake.read())
    assert got.num_rows == 11 == len(set(got["id"].to_pylist()))
    assert got.schema.equals(expected.schema)
    assert got.to_pylist() == expected.to_pylist()
    rows = {r["id"]: r for r in got.to_pylist()}
    assert rows[ID.format(2)]["Name"] == "Changed 2"
    assert rows[ID.format(4)]["Name"] == "Lead 4"  # older Modified_Time did not win
    assert rows[ID.format(5)]["_zoho_deleted_at"] == DELETED_AT
    assert lake.read(live_only=True).num_rows == 10


def test_full_load_appends_and_incremental_merges_one_commit_per_page(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    first = lake.append_page(pages["full-1"], "1001")
    second = lake.append_page(pages["full-2"], "1002")
    third = lake.merge_page(pages["incremental"], "2001")
    assert (first.mode, first.version, second.mode, second.version) == ("append", 0, "append", 1)
    assert (third.mode, third.version, third.rows_inserted, third.rows_updated) == (
        "merge",
        2,
        1,
        2,
    )
    operations = [h.get("zoho_etl_page") for h in lake.delta_table().history()]
    assert operations == ["2001", "1002", "1001"]


def test_a_full_page_repeating_a_stored_id_is_merged_not_duplicated(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(pages["full-1"], "1001")
    again = lake.append_page(pages["incremental"], "1003")  # 2, 3, 4 are stored already
    assert again.mode == "merge"
    assert lake.read().num_rows == 6


def test_a_page_repeating_an_id_keeps_its_newest_row(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(pa.concat_tables([pages["incremental"], pages["full-1"]]), "1001")
    rows = {r["id"]: r for r in lake.read().to_pylist()}
    assert len(rows) == lake.read().num_rows == 6
    assert rows[ID.format(2)]["Name"] == "Changed 2"
    assert rows[ID.format(4)]["Name"] == "Lead 4"


def test_a_committed_page_run_again_is_skipped(tmp_path: Path, pages: dict[str, pa.Table]) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(pages["full-1"], "1001")
    again = LakeTable.open(str(tmp_path), "crm", "Leads").append_page(pages["full-1"], "1001")
    assert (again.mode, again.version, lake.version) == ("skipped", 0, 0)
    assert lake.read().num_rows == 5
    assert lake.mark_deleted([(ID.format(1), DELETED_AT)], batch_id="d1") == 1
    assert lake.mark_deleted([(ID.format(1), DELETED_AT)], batch_id="d1") == 0
    assert lake.version == 1


def test_drift_evolve_adds_a_column_and_widens_a_type(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads", drift_policy="evolve")
    lake.append_page(pages["full-1"], "1001")
    page = pages["incremental"]
    page = page.set_column(
        page.schema.get_field_index("Score"), "Score", page["Score"].cast(pa.string())
    )
    page = page.append_column("Rating", pa.array(["hot"] * page.num_rows))
    commit = lake.merge_page(page, "2001")
    assert commit.drift is not None
    assert {c.column: c.action for c in commit.drift.changes} == {
        "Score": "widen_column",
        "Rating": "add_column",
    }
    schema = lake.schema()
    assert schema is not None
    assert schema.field("Score").type == pa.string()
    assert schema.field("Rating").type == pa.string()
    rows = {r["id"]: r for r in lake.read().to_pylist()}
    assert rows[ID.format(1)]["Score"] == "1"
    assert rows[ID.format(1)]["Rating"] is None
    assert rows[ID.format(2)]["Score"] == "-2"
    assert rows[ID.format(2)]["Rating"] == "hot"
    assert len(rows) == 6


def test_drift_freeze_fails_naming_field_old_and_new_type_and_writes_nothing(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads", drift_policy="freeze")
    lake.append_page(pages["full-1"], "1001")
    page = pages["incremental"]
    page = page.set_column(
        page.schema.get_field_index("Score"), "Score", page["Score"].cast(pa.string())
    )
    with pytest.raises(SchemaDriftError) as caught:
        lake.merge_page(page, "2001")
    assert (caught.value.field, caught.value.old_type, caught.value.new_type) == (
        "Score",
        "int64",
        "string",
    )
    assert "'Score'" in str(caught.value)
    assert "int64" in str(caught.value)
    assert lake.version == 0


def test_time_travel_by_version_and_by_timestamp(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(pages["full-1"], "1001")
    before_second = datetime.now(UTC)
    time.sleep(0.05)  # the commit timestamps are milliseconds: keep the two apart
    lake.merge_page(pages["incremental"], "2001")
    assert lake.read().num_rows == 6
    by_version = lake.read(version=0)
    by_time = lake.read(version=before_second)
    assert by_version.num_rows == by_time.num_rows == 5
    assert {r["Name"] for r in by_version.to_pylist()} == {f"Lead {n}" for n in range(1, 6)}
    assert by_time.sort_by("id").to_pylist() == by_version.sort_by("id").to_pylist()
    with pytest.raises(ValueError, match="timezone-aware"):
        lake.as_of(datetime(2025, 1, 1))


def test_optimize_and_vacuum_keep_the_data(tmp_path: Path, pages: dict[str, pa.Table]) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    _load_all(lake, pages)
    expected = _sorted(lake.read()).to_pylist()
    on_disk = sorted((tmp_path / "crm" / "Leads").glob("*.parquet"))
    metrics = lake.optimize()
    assert metrics["numFilesRemoved"] >= 2
    assert len(lake.delta_table().file_uris()) == 1
    assert _sorted(lake.read()).to_pylist() == expected
    assert lake.vacuum() == []  # the default retention (7 days) keeps everything this young
    assert set(on_disk) <= set((tmp_path / "crm" / "Leads").glob("*.parquet"))
    assert lake.vacuum(timedelta(0))
    remaining = [str(p) for p in (tmp_path / "crm" / "Leads").glob("*.parquet")]
    assert not set(on_disk) & set((tmp_path / "crm" / "Leads").glob("*.parquet"))
    assert remaining == lake.delta_table().file_uris()
    assert _sorted(lake.read()).to_pylist() == expected
    with pytest.raises(FileNotFoundError):  # as documented: older versions lose their files
        lake.read(version=1)


def test_readers_pandas_duckdb_and_pyarrow_dataset(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    _load_all(lake, pages)
    frame = lake.delta_table().to_pandas()
    assert len(frame) == 11
    assert frame["id"].is_unique
    assert str(frame["Modified_Time"].dtype) == "datetime64[us, UTC]"
    con = duckdb.connect()
    con.register("leads", lake.delta_table().to_pyarrow_dataset())
    live = con.sql("SELECT count(*), max(Score) FROM leads WHERE _zoho_deleted_at IS NULL")
    assert live.fetchall() == [(10, 11)]
    con.close()
    plain = pads.dataset(lake.delta_table().file_uris(), format="parquet").to_table()
    assert plain.num_rows == 11  # one file per live version of a row: no stale copies here


def test_a_page_streamed_as_batches_is_appended_and_its_own_error_surfaces(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    commit = lake.append_page(iter(pages["full-1"].to_batches(max_chunksize=2)), "1001")
    assert (commit.mode, commit.rows, lake.read().num_rows) == ("append", 5, 5)

    def cut_short() -> Iterator[pa.RecordBatch]:
        yield from pages["full-2"].to_batches(max_chunksize=2)[:1]
        raise CsvFormatError("1002.zip", "the file ends inside a record")

    with pytest.raises(CsvFormatError, match=r"1002\.zip"):
        lake.append_page(cut_short(), "1002", schema=pages["full-2"].schema)
    assert lake.version == 0
    assert not lake.committed("1002")


def test_a_table_at_a_file_uri_with_storage_options(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    options = {"timeout": "30s"}  # passed through to delta-rs's object store
    lake = LakeTable.open(tmp_path.as_uri(), "crm", "Leads", storage_options=options)
    assert lake.location == f"{tmp_path.as_uri()}/crm/Leads"
    lake.append_page(pages["full-1"], "1001")
    lake.merge_page(pages["incremental"], "2001")
    assert (tmp_path / "crm" / "Leads" / "_delta_log").is_dir()
    assert lake.read().num_rows == 6
    assert LakeTable(str(tmp_path / "crm" / "Leads"), "crm/Leads").version == 1


def test_an_incremental_page_into_a_missing_table_creates_it(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    doubled = pa.concat_tables([pages["incremental"], pages["incremental"]])
    commit = lake.merge_page(doubled, "2001")
    assert (commit.mode, commit.rows, lake.version) == ("append", 4, 0)
    assert lake.read().num_rows == 4


def test_stored_ids_are_looked_up_only_in_files_whose_id_range_meets_them(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(pages["full-1"], "1001")  # ids 1-5
    lake.append_page(pages["full-2"], "1002")  # ids 6-10
    assert lake.has_stored_ids(pa.chunked_array([[ID.format(7)]]))
    assert not lake.has_stored_ids(pa.chunked_array([[ID.format(11), ID.format(99)]]))
    # inside a file's range but not stored: the file is read, and says no
    assert not lake.has_stored_ids(pa.chunked_array([[ID.format(6) + "5"]]))
    assert not lake.has_stored_ids(pa.chunked_array([pa.array([], pa.string())]))


def test_a_checkpoint_every_ten_commits_keeps_opening_the_table_cheap(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(pages["full-1"], "1001")
    for n in range(10):
        lake.mark_deleted([(ID.format(1 + n % 5), DELETED_AT + timedelta(days=n))], f"d{n}")
    assert lake.version == 10
    log = Path(lake.location) / "_delta_log"
    assert [p.name for p in log.glob("*.checkpoint.parquet")] == [
        "00000000000000000009.checkpoint.parquet"  # the tenth commit (version 9)
    ]
