"""Fixtures of the transforms tests: a warehouse per dialect and a throw-away table name.

``warehouse`` runs each test on DuckDB (a file in tmp_path) and on PostgreSQL (``pg_url``:
skipped on a laptop without PostgreSQL, failing under CI), once per staging path (binary
COPY and CSV COPY). Table names are unique per test,
so tests can share the PostgreSQL ``test`` database with other packages' tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from transforms.identifiers import quote
from transforms.warehouse import Warehouse, open_warehouse
from transforms.warehouse.postgres import PostgresWarehouse


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("postgresql-copy", marks=pytest.mark.postgres),
    ]
)
def warehouse_kind(request: pytest.FixtureRequest) -> str:
    """duckdb, postgresql (binary COPY, the default) or postgresql-copy (CSV COPY staging)."""
    kind: str = request.param
    return kind


@pytest.fixture
def warehouse_url(warehouse_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if warehouse_kind == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def warehouse(warehouse_kind: str, warehouse_url: str) -> Iterator[Warehouse]:
    opened = (
        PostgresWarehouse(warehouse_url, ingest="csv")
        if warehouse_kind == "postgresql-copy"
        else open_warehouse(warehouse_url)
    )
    with opened:
        yield opened


@pytest.fixture
def table_name(warehouse: Warehouse) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    if isinstance(warehouse, PostgresWarehouse):
        warehouse.connection.execute(f"DROP TABLE IF EXISTS {quote(name)}")
