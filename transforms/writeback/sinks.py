"""Store write-back results in a warehouse and write new record ids back to a source table.

The results go through the warehouse interface (``Warehouse.store_table``: DuckDB from
Arrow, the ``errors`` column staying a list of structs; PostgreSQL through ``COPY``; any
other SQLAlchemy URL through ``pandas.to_sql``, the last two with ``errors`` as
``CODE-a,b:CODE2-c`` text). Give a `Warehouse` (the run's own) or a URL.

Table and column names pass `transforms.identifiers.validate_api_name` and are quoted;
values travel as Arrow buffers, COPY streams or bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc

from transforms.identifiers import quote, validate_api_name
from transforms.warehouse import open_warehouse
from transforms.warehouse.base import StoreMode, Warehouse
from transforms.writeback.reconcile import flat_results

WriteMode = StoreMode


@contextmanager
def _opened(target: str | Warehouse) -> Iterator[Warehouse]:
    """The warehouse itself, or one opened on a URL for this call only."""
    if isinstance(target, Warehouse):
        yield target
        return
    with open_warehouse(target) as warehouse:
        yield warehouse


def write_results_warehouse(
    results: pa.Table, target: str | Warehouse, table: str, mode: WriteMode = "replace"
) -> int:
    """Write the per-row result table to ``table`` in a warehouse (or at a URL).

    A warehouse that keeps nested values (DuckDB) gets the ``errors`` list as it is; the
    others get it as ``CODE-a,b:CODE2-c`` text. Returns the rows written.
    """
    name = validate_api_name(table, "results table")
    with _opened(target) as warehouse:
        data = results if warehouse.stores_nested else flat_results(results)
        return warehouse.store_table(name, data, mode)


def _duckdb_path(url: str) -> str | None:
    if url.startswith("duckdb:///"):
        return url[len("duckdb:///") :] or ":memory:"
    if url == "duckdb://" or url == "duckdb:///:memory:":
        return ":memory:"
    return None


def write_record_ids_sql(
    results: pa.Table,
    url: str,
    table: str,
    key_column: str,
    id_column: str,
) -> int:
    """Set ``id_column`` = Zoho record id on the source rows whose ``key_column`` = result key.

    Only ADDED / UPDATED rows are written; the column must already exist. Returns the
    number of keys sent.
    """
    name = quote(validate_api_name(table, "source table"))
    key = quote(validate_api_name(key_column))
    target = quote(validate_api_name(id_column))
    written = pc.is_in(results.column("status"), value_set=pa.array(["ADDED", "UPDATED"]))
    pairs = results.filter(written).select(["key", "record_id"])
    path = _duckdb_path(url)
    sql = (
        f"UPDATE {name} SET {target} = ids.record_id FROM ids "
        f"WHERE CAST({name}.{key} AS VARCHAR) = ids.key"
    )
    if path is not None:
        import duckdb

        with duckdb.connect(path) as con:
            con.register("ids", pairs)
            con.execute(sql)
            con.unregister("ids")
        return pairs.num_rows
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"UPDATE {name} SET {target} = :record_id WHERE CAST({key} AS TEXT) = :key"
                ),
                pairs.to_pylist(),
            )
    finally:
        engine.dispose()
    return pairs.num_rows
