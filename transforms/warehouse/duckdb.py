"""DuckDB, the default warehouse: an embedded file, loaded by scanning Arrow natively.

A page loads in **one transaction** (`DuckDbWarehouse.stage_and_merge`), after the drift DDL:

- **direct**: when the table is new, when the table's previous page went in directly (the
  pages of a full export), or when none of the page's first rows has a stored id
  (`probe_stored_ids.sql`), the whole page goes in with ONE ``INSERT`` that pulls the batches
  from an Arrow stream as they are read (DuckDB reads the buffers in place and compresses
  full row groups as it goes: a full export writes each row once, ~2x faster than staging +
  MERGE). Then `count_page_clashes.sql` checks the page against the table (one scan of
  its ids per page). The page's batches are kept meanwhile (at most
  ``DIRECT_LOAD_MAX_BYTES``);
- **merge**: otherwise (a stored or repeated id found by that check, or a page too big to
  keep: the insert is rolled back), the page goes to a temporary staging table which
  ``sql/duckdb/merge.sql`` (``merge_dedup.sql`` when it repeats ids) merges in, newest
  ``Modified_Time`` winning.

A failure before the commit rolls everything back. Timestamps are handled in UTC.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.drift import DriftPlan, align_batch
from transforms.identifiers import quote
from transforms.schema import ID_COLUMN
from transforms.warehouse.base import (
    DIRECT_LOAD_MAX_BYTES,
    STAGE_BATCH_ROWS,
    KeepLimitError,
    KeptBatches,
    LoadHooks,
    LoadProgress,
    StoreMode,
    Warehouse,
    coalesce,
    deletions_batch,
    staging_name,
    take_rows,
)
from transforms.warehouse.ddl import column_defs, drift_statements
from transforms.warehouse.sql import assignments, column_list, render, template
from transforms.warehouse.types import arrow_type

DIALECT = "duckdb"
DEFAULT_MEMORY_LIMIT = "256MB"
_BATCH_VIEW = "_page_batch"
_IDS_VIEW = "_page_ids"
_DELETIONS_VIEW = "_deleted_records"


class DuckDbWarehouse(Warehouse):
    """A DuckDB database file (``":memory:"`` for a throw-away one)."""

    dialect = DIALECT
    driver_errors = (duckdb.Error,)
    stores_nested = True

    def __init__(self, path: str | Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._con = duckdb.connect(self.path)
        self._con.execute("SET TimeZone = 'UTC'")
        # Bounded memory: without a limit DuckDB caches up to 80% of RAM (1.2 GB peak for a
        # 1M-row load measured in bench/transforms.py); beyond the limit it spills to disk.
        # 256MB: loads of new ids run as fast as with 512MB (bench/transforms.py), and the
        # process stays the same size as the table grows (the 10M-record soak in bench/e2e.py).
        self._con.execute("SET memory_limit = ?", [memory_limit])
        self._con.execute("SET preserve_insertion_order = false")
        #: tables whose last page went in directly: their next page skips the probe (see
        #: `_worth_inserting_directly`)
        self._direct_tables: set[str] = set()

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

    def store_table(self, name: str, table: pa.Table, mode: StoreMode = "replace") -> int:
        target, view = quote(name), "_zoho_etl_store_input"
        self._con.register(view, table)
        try:
            if mode == "replace":
                self._con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {view}")
            else:
                self._con.execute(
                    f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {view} LIMIT 0"
                )
                self._con.execute(f"INSERT INTO {target} SELECT * FROM {view}")
        finally:
            self._con.unregister(view)
        return table.num_rows

    def query_arrow(self, sql: str) -> pa.Table:
        cursor = self._con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            try:
                return cursor.sql(sql).to_arrow_table()
            finally:
                cursor.execute("ROLLBACK")
        finally:
            cursor.close()

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
        """The page in one transaction: inserted directly when its ids are new (see module)."""
        load_schema = plan.load_schema
        aligned = (align_batch(b, load_schema) for b in batches if b.num_rows)
        head = take_rows(aligned, STAGE_BATCH_ROWS)
        pending: Iterator[pa.RecordBatch] = itertools.chain(head, aligned)
        rows = 0
        merged: int | None = 0
        staging: str | None = None
        self._begin(table, plan)
        try:
            inserted = False
            direct = bool(head) and self._worth_inserting_directly(table, plan, head)
            self._direct_tables.discard(table)
            if direct:
                feed = KeptBatches(pending, DIRECT_LOAD_MAX_BYTES)
                inserted = self._insert_new(table, load_schema, feed)
                if inserted:
                    rows = merged = feed.rows
                    self._direct_tables.add(table)
                else:  # a stored or repeated id, or a page too big to keep: stage it all
                    self._con.execute("ROLLBACK")
                    self._begin(table, plan)
                    pending = itertools.chain(feed.release(), pending)
            if not inserted:
                for batch in coalesce(pending, STAGE_BATCH_ROWS):
                    if staging is None:
                        staging = staging_name(table)
                        self.create_staging(staging, load_schema)
                    self.stage(staging, batch)
                    rows += batch.num_rows
            progress.merge_next(hooks)
            if staging is not None:
                merged = self._merge_statement(table, staging, plan, version)
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        finally:
            if staging is not None:
                self._drop_quietly(staging)
        return rows, merged

    def _begin(self, table: str, plan: DriftPlan) -> None:
        """Start the page's transaction with the drift DDL."""
        self._con.execute("BEGIN TRANSACTION")
        for statement in drift_statements(DIALECT, table, plan):
            self._con.execute(statement)

    def _worth_inserting_directly(
        self, table: str, plan: DriftPlan, head: list[pa.RecordBatch]
    ) -> bool:
        """Try the direct insert? Yes into a new table, or after a page that went in directly
        (the pages of a full export); else only if the page's first rows hold no stored id.

        The probe (like the clash check that follows every direct insert) scans the table's
        ids: skipping it on the pages of a full export keeps a page's load time from growing
        with the table, while a page of updates is still staged without a wasted insert.
        """
        if plan.report.created_table or table in self._direct_tables:
            return True
        ids = pa.Table.from_batches(head).select([ID_COLUMN])
        return not self._scalar("probe_stored_ids", table, ids)

    def _insert_new(self, table: str, schema: pa.Schema, feed: KeptBatches) -> bool:
        """INSERT the whole page in one statement; False if an id was not new (see module).

        DuckDB pulls the batches as they are read (one statement compresses full row groups
        as it goes); the rows stay kept for a fallback until the clash check has run.
        """
        self._con.register(_BATCH_VIEW, pa.RecordBatchReader.from_batches(schema, feed))
        try:
            statement = render(
                DIALECT,
                "insert_batch",
                target=quote(table),
                source=quote(_BATCH_VIEW),
                columns=column_list(schema.names),
            )
            self._con.execute(statement).fetchall()  # runs to the end of the stream
        except BaseException as exc:
            if isinstance(feed.error, KeepLimitError):
                return False
            if feed.error is not None and feed.error is not exc:
                raise feed.error from None  # the page's own error, not DuckDB's report of it
            raise
        finally:
            # fails in a transaction the stream's error aborted: the caller rolls it back
            with contextlib.suppress(duckdb.Error):
                self._con.unregister(_BATCH_VIEW)
        ids = pa.Table.from_batches(feed.kept, schema).select([ID_COLUMN])
        return not self._scalar("count_page_clashes", table, ids)

    def _scalar(self, name: str, table: str, source: pa.Table) -> object:
        """The one value of ``sql/duckdb/{name}.sql`` run against ``source`` (an Arrow table)."""
        self._con.register(_IDS_VIEW, source)
        try:
            statement = render(DIALECT, name, target=quote(table), source=quote(_IDS_VIEW))
            rows = self._con.execute(statement).fetchall()
        finally:
            self._con.unregister(_IDS_VIEW)
        return rows[0][0] if rows else None

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
