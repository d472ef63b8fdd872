"""`transforms.lake.adopt`: a first load's landing Parquet files become the table's data files;
the table reads the same as one written through delta-rs, and every case it cannot take is
handed back to the writer."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from transforms.lake import LakeTable
from transforms.lake.adopt import adopt_page_files, local_directory
from transforms.lake.types import from_delta_schema
from transforms.schema import ID_COLUMN

DELETED_AT = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)


def landing(tmp_path: Path, name: str, page: pa.Table, files: int = 1) -> list[Path]:
    """The page as the load writes it: ``files`` Parquet files of consecutive rows."""
    directory = tmp_path / "landing" / name
    directory.mkdir(parents=True)
    size = -(-page.num_rows // files)
    paths = []
    for n in range(files):
        path = directory / f"{name}-{n:04d}.parquet"
        pq.write_table(page.slice(n * size, size), path, compression="zstd")
        paths.append(path)
    return paths


def rows(lake: LakeTable, version: int | None = None) -> pa.Table:
    table = lake.read(version=version).sort_by(ID_COLUMN)
    return table.cast(from_delta_schema(table.schema))


def test_adopted_pages_read_like_written_ones_through_merge_delete_and_time_travel(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    adopted = LakeTable.open(str(tmp_path / "adopted"), "crm", "Leads")
    written = LakeTable.open(str(tmp_path / "written"), "crm", "Leads")
    for page_id, name in (("1001", "full-1"), ("1002", "full-2")):
        commit = adopt_page_files(adopted, landing(tmp_path, name, pages[name], 2), page_id)
        assert commit is not None
        assert (commit.mode, commit.rows, commit.rows_inserted) == ("append", 5, 5)
        written.append_page(pages[name], page_id)
    for lake in (adopted, written):
        lake.merge_page(pages["incremental"], "2001")
        lake.mark_deleted([(pages["full-1"][ID_COLUMN][0].as_py(), DELETED_AT)], "d1")

    assert adopted.version == written.version == 3
    assert rows(adopted).equals(rows(written))
    assert rows(adopted, version=0).equals(rows(written, version=0))
    assert rows(adopted, version=0).num_rows == 5
    history = [h.get("zoho_etl_page") for h in adopted.delta_table().history()]
    assert history[-2:] == ["1002", "1001"]  # newest first: one commit per page

    # the readers the README names
    frame = adopted.delta_table().to_pandas()
    assert sorted(frame[ID_COLUMN]) == rows(written)[ID_COLUMN].to_pylist()
    dataset = adopted.delta_table().to_pyarrow_dataset()  # noqa: F841  (DuckDB scans it)
    live = duckdb.sql("SELECT count(*) FROM dataset WHERE _zoho_deleted_at IS NULL").fetchall()
    assert live == [(10,)]  # 11 ids, one stamped deleted


def test_the_files_are_linked_not_rewritten_and_carry_id_statistics(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    files = landing(tmp_path, "full-1", pages["full-1"], 2)
    assert adopt_page_files(lake, files, "1001") is not None
    table_dir = Path(lake.location)
    data = sorted(table_dir.glob("zoho-1001-*.parquet"))
    assert [os.stat(p).st_ino for p in data] == [os.stat(p).st_ino for p in files]
    for path in files:
        path.unlink()  # the landing copy goes; the table keeps its own link
    assert lake.read().num_rows == 5
    actions = pa.table(lake.delta_table().get_add_actions(flatten=True)).to_pylist()
    ids = pages["full-1"][ID_COLUMN].to_pylist()
    assert sorted((a["min.id"], a["max.id"], a["num_records"]) for a in actions) == [
        (ids[0], ids[2], 3),
        (ids[3], ids[4], 2),
    ]
    assert all(a["null_count._zoho_deleted_at"] == a["num_records"] for a in actions)


def test_every_column_filters_as_the_rows_it_holds(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    # delta-rs' readers skip files on their statistics: incomplete or unreadable ones lose
    # rows (its own writer's do for a decimal past 2**63: Big's 9999999999999999999)
    lake = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    page = pa.concat_tables([pages["full-1"], pages["full-2"]])
    assert adopt_page_files(lake, landing(tmp_path, "page", page, 3), "1001") is not None
    dataset = lake.delta_table().to_pyarrow_dataset()
    checked = 0
    for field in dataset.schema:
        if pa.types.is_nested(field.type):
            continue
        column = pc.field(field.name)
        held = page[field.name] if field.name in page.column_names else None
        nulls = page.num_rows if held is None else held.null_count
        assert dataset.count_rows(filter=column.is_null()) == nulls, field.name
        assert dataset.count_rows(filter=column.is_valid()) == page.num_rows - nulls, field.name
        value = None if held is None else held[7].as_py()
        if value is not None:
            expected = pc.sum(pc.equal(held, pa.scalar(value, held.type))).as_py()
            where = column == pa.scalar(value, held.type)
            assert dataset.count_rows(filter=where) == expected > 0, field.name
            checked += 1
    assert checked >= 15


def test_a_committed_page_is_skipped_and_an_uncommitted_attempt_is_replaced(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    adopt_page_files(lake, landing(tmp_path, "full-1", pages["full-1"]), "1001")

    class Killed(Exception):
        pass

    def die() -> None:
        raise Killed

    files = landing(tmp_path, "full-2", pages["full-2"])
    with pytest.raises(Killed):
        adopt_page_files(lake, files, "1002", before_commit=die)
    assert (lake.version, lake.read().num_rows) == (0, 5)  # linked, not committed: unseen
    again = adopt_page_files(lake, files, "1002")
    assert again is not None
    assert (again.mode, again.version) == ("append", 1)
    skipped = adopt_page_files(lake, files, "1002")
    assert skipped is not None
    assert (skipped.mode, skipped.version) == ("skipped", 1)
    assert lake.read().num_rows == 10


def test_pages_it_cannot_take_are_handed_back_to_the_writer(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    lake = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    adopt_page_files(lake, landing(tmp_path, "full-1", pages["full-1"]), "1001")
    # ids 2, 3 and 4 are stored already: a merge's work
    assert adopt_page_files(lake, landing(tmp_path, "inc", pages["incremental"]), "2001") is None
    # an id twice in one page
    twice = pa.concat_tables([pages["full-2"], pages["full-2"].slice(0, 1)])
    assert adopt_page_files(lake, landing(tmp_path, "twice", twice), "1002") is None
    # a column of another type than the table's (drift: the writer casts or widens)
    score = pages["full-2"].schema.get_field_index("Score")
    other = pages["full-2"].set_column(score, "Score", pages["full-2"]["Score"].cast(pa.string()))
    assert adopt_page_files(lake, landing(tmp_path, "other", other), "1003") is None
    # a table on object storage goes through delta-rs' writer
    remote = LakeTable("s3://bucket/lake/crm/Leads", "crm/Leads")
    assert adopt_page_files(remote, landing(tmp_path, "remote", pages["full-2"]), "1004") is None
    assert lake.version == 0
    assert not list(Path(lake.location).glob("zoho-100[234]-*"))


def test_local_directory_reads_paths_and_file_urls() -> None:
    assert local_directory("/data/lake/crm/Leads") == Path("/data/lake/crm/Leads")
    assert local_directory("file:///data/lake/crm/Leads") == Path("/data/lake/crm/Leads")
    assert local_directory("s3://bucket/lake") is None
    assert local_directory("az://container/lake") is None
    assert local_directory("relative/lake") == Path("relative/lake")


def test_across_file_systems_the_files_are_copied(
    tmp_path: Path, pages: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(source: Path, target: Path) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    lake = LakeTable.open(str(tmp_path / "lake"), "crm", "Leads")
    files = landing(tmp_path, "full-1", pages["full-1"])
    assert adopt_page_files(lake, files, "1001") is not None
    data = next(Path(lake.location).glob("zoho-1001-*.parquet"))
    assert os.stat(data).st_ino != os.stat(files[0]).st_ino
    assert rows(lake).num_rows == 5
