"""`transforms.lake.merge_on_read`: merges that mark rows in deletion vectors instead of
rewriting files, read back by delta-rs' own deletion-vector reader (and `reading`'s readers)
and checked against the copy-on-write merge on the same pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from transforms.errors import LakeTableError
from transforms.lake import LakeTable
from transforms.lake.deletion_vectors import TableLog
from transforms.lake.reading import arrow_source, has_deletion_vectors
from transforms.lake.types import from_delta_schema

DELETED_AT = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
ID = "48768760000000{:05d}"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _rows(table: pa.Table) -> list[dict[str, object]]:
    table = table.sort_by("id")
    return table.cast(from_delta_schema(table.schema)).to_pylist()


def _page(ids: list[int], minutes: list[int], name: str) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([f"{i:019d}" for i in ids], pa.string()),
            "Modified_Time": pa.array(
                [T0 + timedelta(minutes=m) for m in minutes], pa.timestamp("us", "UTC")
            ),
            "Name": pa.array([f"{name} {i}" for i in ids], pa.string()),
        }
    )


def _twins(tmp_path: Path) -> tuple[LakeTable, LakeTable]:
    """The same module twice: copy-on-write merges, and merges with deletion vectors."""
    small = 64 << 10  # several data files, so that a merge meets some and not others
    cow = LakeTable(str(tmp_path / "cow"), "crm/Leads", target_file_bytes=small)
    mor = LakeTable(
        str(tmp_path / "mor"), "crm/Leads", target_file_bytes=small, deletion_vectors=True
    )
    return cow, mor


def test_merges_with_deletion_vectors_equal_copy_on_write_merges(tmp_path: Path) -> None:
    cow, mor = _twins(tmp_path)
    rng = np.random.default_rng(11)
    full = _page(list(range(20_000)), [0] * 20_000, "Lead")
    changed = sorted(rng.choice(20_000, 2_000, replace=False).tolist())
    # newer, the same time (wins too), older (loses); and 50 new ids
    minutes = rng.choice([-5, 0, 5], len(changed)).tolist()
    first = _page([*changed, *range(20_000, 20_050)], [*minutes, *[5] * 50], "First")
    again = sorted(rng.choice(changed, 500, replace=False).tolist())
    second = _page(again, [10] * len(again), "Second")
    for lake in (cow, mor):
        lake.append_page(full, "1")
        lake.merge_page(first, "2")
        lake.mark_deleted([(f"{i:019d}", DELETED_AT) for i in again[:100]], batch_id="d")
        commit = lake.merge_page(second, "3")  # files that already have a vector, marks kept
    assert commit.rows_updated == len(again)
    assert _rows(mor.read()) == _rows(cow.read())
    got = _rows(mor.read())
    assert len(got) == 20_050 == len({r["id"] for r in got})
    assert sum(r["_zoho_deleted_at"] == DELETED_AT for r in got) == 100
    current = mor.delta_table()
    assert has_deletion_vectors(current)
    assert not has_deletion_vectors(cow.delta_table())
    assert pa.table(current.deletion_vectors()).num_rows > 0
    assert mor.merge_page(second, "3").mode == "skipped"
    assert [h.get("zoho_etl_page") for h in current.history()] == ["3", "d", "2", "1"]


def test_pages_of_the_pages_fixture_equal_the_copy_on_write_table(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    cow, mor = _twins(tmp_path)
    for lake in (cow, mor):
        lake.append_page(pages["full-1"], "1001")
        lake.append_page(pages["full-2"], "1002")
        lake.merge_page(pages["incremental"], "2001")
        lake.mark_deleted([(ID.format(5), DELETED_AT)], batch_id="deleted-2001")
        lake.merge_page(pages["full-1"], "2002")  # 5 delivered again keeps its mark
    assert _rows(mor.read()) == _rows(cow.read())
    assert mor.read().schema.equals(cow.read().schema)
    assert has_deletion_vectors(mor.delta_table())


def test_delta_rs_operations_after_vectors_keep_the_data(tmp_path: Path) -> None:
    cow, mor = _twins(tmp_path)
    full = _page(list(range(5_000)), [0] * 5_000, "Lead")
    change = _page(list(range(0, 5_000, 7)), [5] * 715, "Changed")
    added = _page([3, 5_001], [9, 9], "Wider").append_column("Extra", pa.array(["x", "y"]))
    for lake in (cow, mor):
        lake.append_page(full, "1")
        lake.merge_page(change, "2")
    before = mor.version
    for lake in (cow, mor):
        lake.merge_page(added, "3")  # a new column: delta-rs' merge, on a table with vectors
        lake.optimize()
    assert _rows(mor.read()) == _rows(cow.read())
    assert _rows(mor.read(version=before)) == _rows(cow.read(version=before))
    assert not mor.vacuum()  # the default retention keeps every file this young
    mor.vacuum(timedelta(0))
    assert _rows(mor.read()) == _rows(cow.read())


def test_a_commit_that_fails_leaves_the_last_version_and_a_re_run_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cow, mor = _twins(tmp_path)
    full = _page(list(range(3_000)), [0] * 3_000, "Lead")
    change = _page(list(range(0, 3_000, 3)), [5] * 1_000, "Changed")
    for lake in (cow, mor):
        lake.append_page(full, "1")
    cow.merge_page(change, "2")
    version, rows = mor.version, _rows(mor.read())

    def another_writer_first(self: TableLog, actions: list[dict[str, object]]) -> int:
        raise FileExistsError(self.directory / "_delta_log")

    with monkeypatch.context() as patch:
        patch.setattr(TableLog, "commit", another_writer_first)
        with pytest.raises(LakeTableError, match="deletion vectors"):
            mor.merge_page(change, "2")
    assert (mor.version, _rows(mor.read())) == (version, rows)
    left = sorted(Path(mor.location).glob("deletion_vector_*.bin"))
    assert left  # the failed attempt's vectors: named by no commit
    assert mor.merge_page(change, "2").mode == "merge"
    assert _rows(mor.read()) == _rows(cow.read())
    removed = mor.vacuum(timedelta(0))
    assert {str(p) for p in left} <= set(removed)
    assert not any(p.exists() for p in left)
    assert list(Path(mor.location).glob("deletion_vector_*.bin"))  # the committed ones stay
    assert _rows(mor.read()) == _rows(cow.read())


def test_readers_of_a_table_with_vectors(tmp_path: Path) -> None:
    _, mor = _twins(tmp_path)
    mor.append_page(_page(list(range(1_000)), [0] * 1_000, "Lead"), "1")
    mor.merge_page(_page([1, 2, 3], [5, 5, 5], "Changed"), "2")
    table = DeltaTable(mor.location)
    with pytest.raises(Exception, match="deletionVectors"):
        table.to_pandas()  # delta-rs' pyarrow readers refuse: use scan()
    frame = pa.table(table.scan()).to_pandas()
    assert len(frame) == 1_000 == frame["id"].nunique()
    connection = duckdb.connect()
    connection.register("leads", arrow_source(table))
    counts = connection.execute("SELECT count(*), count(DISTINCT id) FROM leads").fetchall()
    assert counts == [(1_000, 1_000)]
    names = dict(connection.execute("SELECT id, Name FROM leads WHERE Name LIKE 'C%'").fetchall())
    assert sorted(names.values()) == ["Changed 1", "Changed 2", "Changed 3"]
    log = Path(mor.location) / "_delta_log" / f"{mor.version:020d}.json"
    commit = json.loads(log.read_text().splitlines()[0])
    assert commit["commitInfo"]["zoho_etl_page"] == "2"
