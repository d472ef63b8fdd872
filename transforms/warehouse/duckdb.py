"""DuckDB, the default warehouse: an embedded file, loaded by scanning Arrow natively.

A page loads in **one transaction** (`DuckDbWarehouse.stage_and_merge`): the drift DDL,
then each batch (registered with the connection: DuckDB reads the Arrow buffers in place)
is inserted straight into the table while none of its ids is there yet and it repeats no
id (a full export: one write per row, ~2x faster than staging + MERGE); from the first
batch that fails that check on, batches go to a temporary staging table which
``sql/duckdb/merge.sql`` (``merge_dedup.sql`` when it repeats ids) merges in, newest
``Modified_Time`` winning, also over the rows this page inserted. A failure before the
commit rolls everything back. Timestamps are handled in UTC.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.drift import DriftPlan, align_batch
from transforms.identifiers import quote
from transforms.schema import ID_COLUMN
from transforms.warehouse.base import (
    STAGE_BATCH_ROWS,
    LoadHooks,
    LoadProgress,
    Warehouse,
    coalesce,
    deletions_batch,
    staging_name,
)
from transforms.warehouse.ddl import column_defs, drift_statements
from transforms.warehouse.sql import assignments, column_list, render, template
from transforms.warehouse.types import arrow_type

DIALECT = "duckdb"
DEFAULT_MEMORY_LIMIT = "512MB"
_BATCH_VIEW = "_page_batch"
_DELETIONS_VIEW = "_deleted_records"


class DuckDbWarehouse(Warehouse):
    """A DuckDB database file (``":memory:"`` for a throw-away one)."""

    dialect = DIALECT
    driver_errors = (duckdb.Error,)

    def __init__(self, path: str | Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._con = duckdb.connect(self.path)
        self._con.execute("SET TimeZone = 'UTC'")
        # Bounded memory: without a limit DuckDB caches up to 80% of RAM (1.2 GB peak for a
        # 1M-row load measured in bench/transforms.py); beyond the limit it spills to disk.
        self._con.execute("SET memory_limit = ?", [memory_limit])
        self._con.execute("SET preserve_insertion_order = false")

    def __repr__(self) -> str:
        return f"DuckDbWarehouse({self.path!r})"

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open connection (for ad-hoc queries; do not close it)."""
        return self._con

    def close(self) -> None:
        self._con.close()

    def table_schema(self, table: str) -> pa.Schema | None:
        rows = self._con.execute(template(DIALECT, "table_columns"), [table]).fetchall()
        if not rows:
            return None
        return pa.schema([pa.field(name, arrow_type(kind)) for name, kind in rows])

    def read_table(self, table: str) -> pa.Table:
        query = f"SELECT * FROM {quote(table)} ORDER BY {quote(ID_COLUMN)}"
        return self._con.sql(query).to_arrow_table()

    def create_staging(self, staging: str, schema: pa.Schema) -> None:
        defs = column_defs(DIALECT, schema)
        statement = render(DIALECT, "create_staging", staging=quote(staging), column_defs=defs)
        self._con.execute(statement)

    def stage(self, staging: str, batch: pa.RecordBatch) -> None:
        self._con.register(_BATCH_VIEW, batch)
        try:
            self._con.execute(
                render(
                    DIALECT,
                    "stage_batch",
                    staging=quote(staging),
                    source=quote(_BATCH_VIEW),
                    columns=column_list(batch.schema.names),
                )
            )
        finally:
            self._con.unregister(_BATCH_VIEW)

    def stage_and_merge(
        self,
        table: str,
        plan: DriftPlan,
        version: str,
        batches: Iterable[pa.RecordBatch],
        hooks: LoadHooks,
        progress: LoadProgress,
    ) -> tuple[int, int | None]:
        """The page in one transaction: insert new ids directly, merge the rest (see module)."""
        load_schema = plan.load_schema
        aligned = (align_batch(b, load_schema) for b in batches if b.num_rows)
        rows = inserted = 0
        staging: str | None = None
        self._con.execute("BEGIN TRANSACTION")
        try:
            for statement in drift_statements(DIALECT, table, plan):
                self._con.execute(statement)
            for batch in coalesce(aligned, STAGE_BATCH_ROWS):
                if staging is None and self._insert_if_new(table, batch):
                    inserted += batch.num_rows
                else:
                    if staging is None:
                        staging = staging_name(table)
                        self.create_staging(staging, load_schema)
                    self.stage(staging, batch)
                rows += batch.num_rows
            progress.staged_at = time.perf_counter()
            if hooks.after_staging is not None:
                hooks.after_staging()
            progress.step = "merging"
            if hooks.inside_merge is not None:
                hooks.inside_merge()
            merged: int | None = inserted
            if staging is not None:
                rest = self._merge_statement(table, staging, plan, version)
                merged = None if rest is None else inserted + rest
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        finally:
            if staging is not None:
                self._drop_quietly(staging)
        return rows, merged

    def _insert_if_new(self, table: str, batch: pa.RecordBatch) -> bool:
        """Insert ``batch`` into ``table`` if it repeats no id and none is stored yet."""
        self._con.register(_BATCH_VIEW, batch)
        try:
            source = quote(_BATCH_VIEW)
            clash = self._con.execute(
                render(DIALECT, "count_clashing_ids", target=quote(table), source=source)
            ).fetchall()[0][0]
            if clash:
                return False
            self._con.execute(
                render(
                    DIALECT,
                    "insert_batch",
                    target=quote(table),
                    source=source,
                    columns=column_list(batch.schema.names),
                )
            )
            return True
        finally:
            self._con.unregister(_BATCH_VIEW)

    def merge(
        self, table: str, staging: str, plan: DriftPlan, version: str, hooks: LoadHooks
    ) -> int | None:
        """The shared protocol's merge (drift DDL + merge statement in one transaction)."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            for statement in drift_statements(DIALECT, table, plan):
                self._con.execute(statement)
            if hooks.inside_merge is not None:
                hooks.inside_merge()
            merged = self._merge_statement(table, staging, plan, version)
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        return merged

    def _merge_statement(
        self, table: str, staging: str, plan: DriftPlan, version: str
    ) -> int | None:
        """Merge ``staging`` into ``table`` (inside the caller's transaction)."""
        columns = plan.load_schema.names
        duplicates = self._con.execute(
            render(DIALECT, "count_duplicate_ids", staging=quote(staging))
        ).fetchall()[0][0]
        row = self._con.execute(
            render(
                DIALECT,
                "merge_dedup" if duplicates else "merge",
                target=quote(table),
                staging=quote(staging),
                version=quote(version),
                columns=column_list(columns),
                source_columns=column_list(columns, "s."),
                update_assignments=assignments([c for c in columns if c != ID_COLUMN], "s"),
            )
        ).fetchone()
        return int(row[0]) if row else None

    def drop_staging(self, staging: str) -> None:
        self._con.execute(render(DIALECT, "drop_table", staging=quote(staging)))

    def apply_deletions(self, table: str, pairs: list[tuple[str, datetime]]) -> int:
        deletions = quote("_stg_deletions")
        frame = pa.Table.from_batches([deletions_batch(pairs)])
        self._con.execute(render(DIALECT, "create_deletions", deletions=deletions))
        self._con.register(_DELETIONS_VIEW, frame)
        try:
            self._con.execute(
                render(
                    DIALECT, "stage_deletions", deletions=deletions, source=quote(_DELETIONS_VIEW)
                )
            )
            self._con.execute("BEGIN TRANSACTION")
            try:
                row = self._con.execute(
                    render(DIALECT, "mark_deleted", target=quote(table), deletions=deletions)
                ).fetchone()
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        finally:
            self._con.unregister(_DELETIONS_VIEW)
            self._con.execute(render(DIALECT, "drop_table", staging=deletions))
        return int(row[0]) if row else 0
