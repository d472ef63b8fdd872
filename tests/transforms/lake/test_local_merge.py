"""`transforms.lake.local_merge`: merges and deletion marks written by this tool, rewriting
files or marking rows in deletion vectors. Each table is read back by delta-rs' own readers
and compared with the DuckDB warehouse given the same pages and deletions (its merge is SQL,
`sql/duckdb/merge.sql`: an independent implementation of the same rule)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from transforms.errors import LakeTableError
from transforms.lake import LakeTable
from transforms.lake.deletion_vectors import TableLog
from transforms.lake.reading import arrow_source, has_deletion_vectors
from transforms.lake.types import from_delta_schema
from transforms.warehouse import open_warehouse

DELETED_AT = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
#: several data files per table, so that a merge meets some of them and not others
SMALL_FILES = 64 << 10

Step = tuple[str, object, str]


def _rows(table: pa.Table) -> list[dict[str, object]]:
    table = table.sort_by("id")
    return table.cast(from_delta_schema(table.schema)).to_pylist()


def _id(number: int) -> str:
    return f"{number:019d}"


def _page(ids: list[int], minutes: list[int], name: str) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([_id(i) for i in ids], pa.string()),
            "Modified_Time": pa.array(
                [T0 + timedelta(minutes=m) for m in minutes], pa.timestamp("us", "UTC")
            ),
            "Name": pa.array([f"{name} {i}" for i in ids], pa.string()),
        }
    )


def _lakes(tmp_path: Path) -> dict[str, LakeTable]:
    return {
        "rewrite": LakeTable(str(tmp_path / "rewrite"), "crm/Leads", target_file_bytes=SMALL_FILES),
        "vectors": LakeTable(
            str(tmp_path / "vectors"),
            "crm/Leads",
            target_file_bytes=SMALL_FILES,
            deletion_vectors=True,
        ),
    }


def _apply(lake: LakeTable, steps: list[Step]) -> None:
    for kind, data, name in steps:
        if kind == "append":
            lake.append_page(data, name)  # type: ignore[arg-type]
        elif kind == "merge":
            lake.merge_page(data, name)  # type: ignore[arg-type]
        else:
            lake.mark_deleted(data, batch_id=name)  # type: ignore[arg-type]


def _warehouse_rows(tmp_path: Path, steps: list[Step]) -> list[dict[str, object]]:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        for kind, data, _ in steps:
            if kind == "delete":
                warehouse.mark_deleted("crm_leads", data)  # type: ignore[arg-type]
            else:
                page: pa.Table = data  # type: ignore[assignment]
                warehouse.load("crm_leads", page.schema, page.to_batches())
        return _rows(warehouse.read_table("crm_leads"))
    finally:
        warehouse.close()


def _no_string_views(lake: LakeTable) -> bool:
    """Every data file stores text as ``string`` (the table's type), none as views."""
    files = [Path(u.removeprefix("file://")) for u in lake.delta_table().file_uris()]
    return not any(pa.types.is_string_view(t) for f in files for t in pq.read_schema(f).types)


def test_merges_and_marks_equal_the_warehouse_both_ways(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    changed = sorted(rng.choice(20_000, 2_000, replace=False).tolist())
    # newer, the same time (wins too), older (loses); and 50 new ids
    minutes = rng.choice([-5, 0, 5], len(changed)).tolist()
    again = sorted(rng.choice(changed, 500, replace=False).tolist())
    steps: list[Step] = [
        ("append", _page(list(range(20_000)), [0] * 20_000, "Lead"), "1"),
        ("merge", _page([*changed, *range(20_000, 20_050)], [*minutes, *[5] * 50], "A"), "2"),
        ("delete", [(_id(i), DELETED_AT) for i in again[:100]], "d"),
        ("merge", _page(again, [10] * len(again), "B"), "3"),  # marks kept
    ]
    expected = _warehouse_rows(tmp_path, steps)
    assert len(expected) == 20_050
    for name, lake in _lakes(tmp_path).items():
        _apply(lake, steps)
        assert _rows(lake.read()) == expected, name
        assert _no_string_views(lake), name
        current = lake.delta_table()
        assert has_deletion_vectors(current) == (name == "vectors")
        assert [h.get("zoho_etl_page") for h in current.history()] == ["3", "d", "2", "1"]
        assert lake.merge_page(steps[-1][1], "3").mode == "skipped"  # type: ignore[arg-type]
        assert lake.mark_deleted([(_id(1), DELETED_AT)], batch_id="d") == 0
    # a text filter through delta-rs' reader of the table with vectors: the newest row only
    vectors = _lakes(tmp_path)["vectors"].delta_table()
    found = pa.table(vectors.scan(predicate=f"id = '{_id(again[0])}'"))
    assert found["Name"].to_pylist() == [f"B {again[0]}"]


def test_the_pages_fixture_equals_the_warehouse_and_text_filters_work(
    tmp_path: Path, pages: dict[str, pa.Table]
) -> None:
    """After a merge and a deletion mark the table holds no ``string_view`` file, so the
    pyarrow dataset (and DuckDB over it) can filter on text: delta-rs' own MERGE left one."""
    steps: list[Step] = [
        ("append", pages["full-1"], "1001"),
        ("append", pages["full-2"], "1002"),
        ("merge", pages["incremental"], "2001"),
        ("delete", [("4876876000000000005", DELETED_AT)], "deleted-2001"),
        ("merge", pages["full-1"], "2002"),  # 5 delivered again keeps its mark
    ]
    expected = _warehouse_rows(tmp_path, steps)
    lake = _lakes(tmp_path)["rewrite"]
    _apply(lake, steps)
    assert _rows(lake.read()) == expected
    assert _no_string_views(lake)
    dataset = lake.delta_table().to_pyarrow_dataset()
    changed = dataset.to_table(filter=pc.field("Name") == "Changed 2")
    assert changed["id"].to_pylist() == ["4876876000000000002"]
    connection = duckdb.connect()
    connection.register("leads", dataset)
    found = connection.execute("SELECT count(*) FROM leads WHERE Name = 'Changed 2'").fetchall()
    assert found == [(1,)]


def test_delta_rs_operations_after_local_merges_keep_the_data(tmp_path: Path) -> None:
    added = _page([3, 5_001], [9, 9], "Wider").append_column("Extra", pa.array(["x", "y"]))
    steps: list[Step] = [
        ("append", _page(list(range(5_000)), [0] * 5_000, "Lead"), "1"),
        ("merge", _page(list(range(0, 5_000, 7)), [5] * 715, "Changed"), "2"),
        ("merge", added, "3"),  # a new column: delta-rs' MERGE, on a table with vectors
    ]
    expected = _warehouse_rows(tmp_path, steps)
    for name, lake in _lakes(tmp_path).items():
        _apply(lake, steps[:2])
        before, rows_before = lake.version, _rows(lake.read())
        _apply(lake, steps[2:])
        lake.optimize()
        assert _rows(lake.read()) == expected, name
        assert _rows(lake.read(version=before)) == rows_before, name
        assert not lake.vacuum()  # the default retention keeps every file this young
        lake.vacuum(timedelta(0))
        assert _rows(lake.read()) == expected, name


@pytest.mark.parametrize("kind", ["rewrite", "vectors"])
def test_a_commit_that_fails_leaves_the_last_version_and_a_re_run_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    steps: list[Step] = [
        ("append", _page(list(range(3_000)), [0] * 3_000, "Lead"), "1"),
        ("merge", _page(list(range(0, 3_000, 3)), [5] * 1_000, "Changed"), "2"),
    ]
    expected = _warehouse_rows(tmp_path, steps)
    lake = _lakes(tmp_path)[kind]
    _apply(lake, steps[:1])
    version, rows = lake.version, _rows(lake.read())
    written = set(Path(lake.location).iterdir())

    def another_writer_first(self: TableLog, actions: list[dict[str, object]]) -> int:
        raise FileExistsError(self.directory / "_delta_log")

    with monkeypatch.context() as patch:
        patch.setattr(TableLog, "commit", another_writer_first)
        with pytest.raises(LakeTableError, match="merging the page"):
            _apply(lake, steps[1:])
    assert (lake.version, _rows(lake.read())) == (version, rows)
    left = set(Path(lake.location).iterdir()) - written
    assert left  # the failed attempt's files: named by no commit
    _apply(lake, steps[1:])
    assert _rows(lake.read()) == expected
    lake.vacuum(timedelta(minutes=30))  # rounded up to an hour: nothing this young goes
    assert all(p.exists() for p in left)
    removed = {Path(p).name for p in lake.vacuum(timedelta(0))}
    assert {p.name for p in left} <= removed
    assert _rows(lake.read()) == expected


def test_readers_of_a_table_with_vectors(tmp_path: Path) -> None:
    lake = _lakes(tmp_path)["vectors"]
    _apply(
        lake,
        [
            ("append", _page(list(range(1_000)), [0] * 1_000, "Lead"), "1"),
            ("merge", _page([1, 2, 3], [5, 5, 5], "Changed"), "2"),
        ],
    )
    table = DeltaTable(lake.location)
    with pytest.raises(Exception, match="deletionVectors"):
        table.to_pandas()  # delta-rs' pyarrow readers refuse: use scan()
    frame = pa.table(table.scan()).to_pandas()
    assert len(frame) == 1_000 == frame["id"].nunique()
    connection = duckdb.connect()
    connection.register("leads", arrow_source(table))
    counts = connection.execute("SELECT count(*), count(DISTINCT id) FROM leads").fetchall()
    assert counts == [(1_000, 1_000)]
    names = connection.execute("SELECT Name FROM leads WHERE Name LIKE 'C%' ORDER BY 1").fetchall()
    assert names == [("Changed 1",), ("Changed 2",), ("Changed 3",)]
    log = Path(lake.location) / "_delta_log" / f"{lake.version:020d}.json"
    commit = json.loads(log.read_text().splitlines()[0])
    assert commit["commitInfo"]["zoho_etl_page"] == "2"
    assert commit["commitInfo"]["operationParameters"] == {"mode": "deletion vectors"}


def test_an_empty_page_commits_its_transaction_and_changes_nothing(tmp_path: Path) -> None:
    lake = _lakes(tmp_path)["vectors"]
    _apply(lake, [("append", _page(list(range(100)), [0] * 100, "Lead"), "1")])
    rows = _rows(lake.read())
    commit = lake.merge_page(_page([], [], "None"), "2")
    assert (commit.mode, commit.rows_inserted, commit.rows_updated) == ("merge", 0, 0)
    assert _rows(lake.read()) == rows
    assert lake.committed("2")
