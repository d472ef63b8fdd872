"""`Warehouse.store_table` and `Warehouse.query_arrow` (write-back results and sources) on
every dialect: DuckDB and SQLite files, and the test PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from transforms.warehouse import Warehouse, open_warehouse

ROWS = pa.table({"row": pa.array([0, 1], pa.int64()), "key": ["a", "b"],
                 "status": ["ADDED", None]})  # fmt: skip


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    with open_warehouse(url) as opened:
        yield opened


def test_store_replaces_or_appends_and_a_query_reads_it_back(warehouse: Warehouse) -> None:
    name = f"results_{uuid.uuid4().hex[:8]}"
    assert warehouse.store_table(name, ROWS) == 2
    assert warehouse.store_table(name, ROWS, "append") == 2
    got = warehouse.query_arrow(f'SELECT "row", key, status FROM "{name}" ORDER BY "row", key')
    assert got.column("key").to_pylist() == ["a", "a", "b", "b"]
    assert got.column("status").to_pylist() == ["ADDED", "ADDED", None, None]
    assert warehouse.store_table(name, ROWS.slice(0, 1)) == 1  # replace: one row left
    assert warehouse.query_arrow(f'SELECT count(*) AS n FROM "{name}"')["n"].to_pylist() == [1]


def test_a_query_that_writes_changes_nothing(warehouse: Warehouse) -> None:
    name = f"kept_{uuid.uuid4().hex[:8]}"
    warehouse.store_table(name, ROWS)
    # DuckDB and PostgreSQL refuse it (READ ONLY); SQLite runs it and it is rolled back
    with contextlib.suppress(*warehouse.driver_errors):
        warehouse.query_arrow(f'DELETE FROM "{name}" RETURNING key')
    assert warehouse.query_arrow(f'SELECT count(*) AS n FROM "{name}"')["n"].to_pylist() == [2]
