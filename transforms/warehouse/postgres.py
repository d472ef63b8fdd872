"""PostgreSQL: staging by binary COPY (ADBC) or CSV COPY (psycopg 3), merge with psycopg 3.

Two ways to stage a page, both streaming batch by batch, data never in SQL text:

- ``ingest="adbc"`` (default, ~2x faster): ``adbc_driver_postgresql`` sends each Arrow batch
  with binary ``COPY`` into an UNLOGGED staging table (ADBC has its own session, so staging
  cannot be a temporary table; the loader drops it after the merge whatever happens);
- ``ingest="copy"``: ``pyarrow.csv.write_csv`` serialises each batch (multi-select lists
  first become array literals, built with Arrow compute) into one ``COPY ... FROM STDIN
  (FORMAT csv)`` into a temporary table; the server parses batch N while we read N+1.

``sql/postgresql/merge.sql`` (``INSERT ... ON CONFLICT ("id") DO UPDATE``) then runs in one
psycopg transaction with the drift DDL. The psycopg connection runs in autocommit mode with
explicit transactions, UTC time zone.
"""

from __future__ import annotations

import contextlib
import io
from datetime import datetime
from typing import Any, Literal

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from adbc_driver_manager import Error as AdbcError

from transforms.drift import DriftPlan
from transforms.identifiers import quote
from transforms.schema import ID_COLUMN, UTC_TIMESTAMP
from transforms.warehouse.base import LoadHooks, Warehouse
from transforms.warehouse.ddl import column_defs, drift_statements
from transforms.warehouse.sql import column_list, render, template
from transforms.warehouse.types import arrow_type

DIALECT = "postgresql"
Ingest = Literal["adbc", "copy"]
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database named by a SQLAlchemy URL (``postgresql+psycopg://...``)."""

    dialect = DIALECT
    driver_errors: tuple[type[BaseException], ...] = (psycopg.Error, AdbcError)

    def __init__(self, url: str, *, ingest: Ingest = "adbc") -> None:
        if ingest not in ("adbc", "copy"):
            raise ValueError(f"ingest must be 'adbc' or 'copy', not {ingest!r}")
        parsed = sa.engine.make_url(url)
        self.ingest: Ingest = ingest
        self._where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
        # libpq URI for ADBC; kept private, never logged (it may hold a password)
        self._adbc_uri = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._adbc: Any = None
        params = parsed.translate_connect_args(username="user", database="dbname")
        params.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})
        self._con = psycopg.connect(autocommit=True, **params)
        self._con.execute("SET TIME ZONE 'UTC'")
        self._con.execute("SET temp_buffers = '256MB'")  # staging stays in memory
        self._copy: tuple[contextlib.ExitStack, psycopg.Copy] | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"PostgresWarehouse({self._where!r})"

    @property
    def connection(self) -> psycopg.Connection:
        """The open connection (for ad-hoc queries; do not close it)."""
        return self._con

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None
        self._con.close()

    def table_schema(self, table: str) -> pa.Schema | None:
        rows = self._con.execute(template(DIALECT, "table_columns"), {"table": quote(table)})
        fields = [pa.field(name, arrow_type(kind)) for name, kind in rows.fetchall()]
        return pa.schema(fields) if fields else None

    def read_table(self, table: str) -> pa.Table:
        schema = self.table_schema(table)
        if schema is None:
            raise KeyError(table)
        cursor = self._con.execute(
            f"SELECT {column_list(schema.names)} FROM {quote(table)} ORDER BY {quote(ID_COLUMN)}"
        )
        rows = cursor.fetchall()
        columns = {name: [row[i] for row in rows] for i, name in enumerate(schema.names)}
        return pa.table(columns, schema=schema)

    def create_staging(self, staging: str, schema: pa.Schema) -> None:
        defs = column_defs(DIALECT, schema)
        name = "create_staging_unlogged" if self.ingest == "adbc" else "create_staging"
        self._con.execute(render(DIALECT, name, staging=quote(staging), column_defs=defs))

    def stage(self, staging: str, batch: pa.RecordBatch) -> None:
        if self.ingest == "adbc":
            with self._adbc_connection().cursor() as cursor:
                cursor.adbc_ingest(staging, batch, mode="append")
            return
        # One COPY for the whole page: the server parses batch N while we read batch N+1.
        if self._copy is None:
            statement = render(
                DIALECT,
                "copy_staging",
                staging=quote(staging),
                columns=column_list(batch.schema.names),
            )
            stack = contextlib.ExitStack()
            cursor = stack.enter_context(self._con.cursor())
            self._copy = (stack, stack.enter_context(cursor.copy(statement)))
        self._copy[1].write(csv_bytes(batch))

    def _adbc_connection(self) -> Any:
        if self._adbc is None:
            import adbc_driver_postgresql.dbapi as adbc  # heavy driver: loaded when used

            self._adbc = adbc.connect(self._adbc_uri, autocommit=True)
        return self._adbc

    def finish_staging(self, staging: str) -> None:
        if self._copy is not None:
            stack, _ = self._copy
            self._copy = None
            stack.close()

    def _abort_copy(self) -> None:
        if self._copy is not None:
            stack, _ = self._copy
            self._copy = None
            with contextlib.suppress(psycopg.Error):
                stack.__exit__(RuntimeError, RuntimeError("load aborted"), None)

    def merge(
        self, table: str, staging: str, plan: DriftPlan, version: str, hooks: LoadHooks
    ) -> int | None:
        target = quote(table)
        columns = plan.load_schema.names
        excluded = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c != ID_COLUMN)
        with self._con.transaction(), self._con.cursor() as cursor:
            cursor.execute(template(DIALECT, "tune_merge"))
            for statement in drift_statements(DIALECT, table, plan):
                cursor.execute(statement)
            if hooks.inside_merge is not None:
                hooks.inside_merge()
            cursor.execute(render(DIALECT, "count_duplicate_ids", staging=quote(staging)))
            counted = cursor.fetchone()
            duplicates = counted[0] if counted else 0
            cursor.execute(
                render(
                    DIALECT,
                    "merge_dedup" if duplicates else "merge",
                    target=target,
                    staging=quote(staging),
                    version=quote(version),
                    columns=column_list(columns),
                    excluded_assignments=excluded,
                )
            )
            return cursor.rowcount

    def drop_staging(self, staging: str) -> None:
        self._abort_copy()
        self._con.execute(render(DIALECT, "drop_table", staging=quote(staging)))

    def apply_deletions(self, table: str, pairs: list[tuple[str, datetime]]) -> int:
        deletions = quote("_stg_deletions")
        frame = pa.record_batch(
            {
                "id": pa.array([p[0] for p in pairs], pa.string()),
                "deleted_at": pa.array([p[1] for p in pairs], UTC_TIMESTAMP),
            }
        )
        self._con.execute(render(DIALECT, "drop_table", staging=deletions))
        self._con.execute(render(DIALECT, "create_deletions", deletions=deletions))
        try:
            with self._con.cursor() as cursor:
                with cursor.copy(render(DIALECT, "copy_deletions", deletions=deletions)) as copy:
                    copy.write(csv_bytes(frame))
                with self._con.transaction():
                    cursor.execute(
                        render(DIALECT, "mark_deleted", target=quote(table), deletions=deletions)
                    )
                    return cursor.rowcount
        finally:
            self._con.execute(render(DIALECT, "drop_table", staging=deletions))


def csv_bytes(batch: pa.RecordBatch) -> bytes:
    """``batch`` as COPY-ready CSV: lists become array literals, nulls stay unquoted empty."""
    arrays = [pg_array_literal(c) if pa.types.is_list(c.type) else c for c in batch.columns]
    buffer = io.BytesIO()
    converted = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
    pacsv.write_csv(converted, buffer, _CSV_OPTIONS)
    return buffer.getvalue()


def pg_array_literal(values: pa.Array) -> pa.Array:
    """Arrow ``list<string>`` -> PostgreSQL array literals (``{"A","B \\"x\\""}``)."""
    items = values.values
    escaped = pc.replace_substring(pc.replace_substring(items, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    quoted = pc.if_else(pc.is_null(items), "NULL", quoted)
    # offsets index into values.values even for a sliced array (a mask would not allow that)
    rebuilt = pa.ListArray.from_arrays(values.offsets, quoted)
    literals = pc.binary_join_element_wise("{", pc.binary_join(rebuilt, ","), "}", "")
    return pc.if_else(values.is_null(), pa.scalar(None, pa.string()), literals)
