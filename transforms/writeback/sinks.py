"""Store write-back results in a warehouse and write new record ids back to a source table.

DuckDB (``duckdb:///path.db``) is loaded natively from Arrow (the ``errors`` column
stays a list of structs); PostgreSQL (``postgresql+psycopg://...``) through ``COPY``;
any other SQLAlchemy URL through ``pandas.to_sql``. For SQL databases other than
DuckDB the ``errors`` column is stored as ``CODE-a,b:CODE2-c`` text.

Table and column names pass `transforms.identifiers.validate_api_name` and are quoted;
values travel as Arrow buffers, COPY streams or bound parameters.
"""

from __future__ import annotations

import io
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms.identifiers import quote, validate_api_name
from transforms.writeback.reconcile import flat_results

WriteMode = Literal["replace", "append"]

_PG_TYPES = {"row": "bigint", "chunk": "integer"}


def _duckdb_path(url: str) -> str | None:
    if url.startswith("duckdb:///"):
        return url[len("duckdb:///") :] or ":memory:"
    if url == "duckdb://" or url == "duckdb:///:memory:":
        return ":memory:"
    return None


def write_results_warehouse(
    results: pa.Table, url: str, table: str, mode: WriteMode = "replace"
) -> int:
    """Write the per-row result table to ``table`` at ``url``; return the rows written."""
    name = quote(validate_api_name(table, "results table"))
    path = _duckdb_path(url)
    if path is not None:
        import duckdb

        with duckdb.connect(path) as con:
            con.register("writeback_results", results)
            if mode == "replace":
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM writeback_results")
            else:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM writeback_results LIMIT 0"
                )
                con.execute(f"INSERT INTO {name} SELECT * FROM writeback_results")
            con.unregister("writeback_results")
        return results.num_rows
    flat = flat_results(results)
    if url.startswith("postgresql"):
        return _copy_postgres(flat, url, name, mode)
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        flat.to_pandas().to_sql(
            table, engine, if_exists="replace" if mode == "replace" else "append", index=False
        )
    finally:
        engine.dispose()
    return results.num_rows


def _copy_postgres(flat: pa.Table, url: str, name: str, mode: WriteMode) -> int:
    import sqlalchemy as sa

    columns = ", ".join(f"{quote(c)} {_PG_TYPES.get(c, 'text')}" for c in flat.column_names)
    sink = io.BytesIO()
    pacsv.write_csv(flat, sink, pacsv.WriteOptions(include_header=False))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if mode == "replace":
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN (FORMAT csv)") as copy:
                copy.write(sink.getvalue())
    finally:
        engine.dispose()
    return flat.num_rows


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
