"""PostgreSQL: one-transaction loads by binary COPY, or CSV COPY staging (psycopg 3).

``ingest="binary"`` (default, the fast path): a page is loaded in ONE transaction, streamed
with one binary ``COPY`` (`transforms.warehouse.pgbinary` encodes the Arrow batches column by
column) that a helper thread writes while the caller's thread reads, converts and encodes
the next rows (the server works on the other core):

- the drift DDL (create the table, add or widen columns) runs first;
- **direct**: when the table is new, or none of the first batch's ids is stored
  (`probe_stored_ids.sql`), the page is copied straight into the table: for records the
  table does not hold, the merge is an insert, so the data is written once instead of into
  staging and again into the table. A new table gets its primary key after the COPY, built
  from the page in one sort (1.2-1.4 s of server CPU for a 200,000-row page of Leads
  instead of 1.4-1.8 s with the key in place during the COPY). The page is kept in memory
  meanwhile (at most ``DIRECT_LOAD_MAX_BYTES``, else it takes the next path): a later
  batch repeating a stored or an earlier id makes COPY (or, for a new table, adding the
  key) fail (unique key); the COPY's savepoint is rolled back and the kept page takes the
  next path;
- **merge**: the page is copied into a temporary staging table (``ON COMMIT DROP``), then
  ``sql/postgresql/merge.sql`` (``INSERT ... ON CONFLICT ("id") DO UPDATE``, newest
  version wins) or ``merge_dedup.sql`` merges it.

Nothing is committed before the end, so a failure anywhere (injected by the hooks or not)
leaves the table as it was, a new table absent. ``ingest="csv"``: the shared protocol of
`transforms.warehouse.base`; ``pyarrow.csv.write_csv`` serialises each batch (multi-select
lists become array literals, built with Arrow compute) into one ``COPY ... FROM STDIN
(FORMAT csv)`` into a staging table, merged in one transaction. Data values never appear in
SQL text. Sessions run with the UTC time zone.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import queue
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

from transforms.drift import DriftPlan, align_batch, plan_drift
from transforms.identifiers import quote
from transforms.schema import DELETED_AT_COLUMN, ID_COLUMN
from transforms.warehouse.base import (
    DIRECT_LOAD_MAX_BYTES,
    KeepLimitError,
    KeptBatches,
    LoadHooks,
    LoadProgress,
    StoreMode,
    Warehouse,
    deletions_batch,
    staging_name,
    take_rows,
)
from transforms.warehouse.ddl import column_defs, drift_statements
from transforms.warehouse.pgbinary import COPY_HEADER, COPY_TRAILER, encode_rows
from transforms.warehouse.sql import column_list, render, template
from transforms.warehouse.types import arrow_type

#: first key of the advisory lock that serialises creating a table (second: its name)
_CREATE_LOCK_SPACE = 0x7A6F686F  # "zoho"
DIALECT = "postgresql"
Ingest = Literal["binary", "csv"]
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
#: rows encoded together (NumPy and Arrow calls per column have a fixed cost to spread) ...
COPY_BLOCK_ROWS = 16_384
#: ... after a first block this small, doubling: the server, idle until a page's first rows
#: arrive, starts on them at once instead of after ~80 ms of reading (~10% faster loads)
COPY_FIRST_BLOCK_ROWS = 1_024
#: encoded batches waiting for the COPY thread (bounded memory)
COPY_QUEUE_DEPTH = 16


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database named by a SQLAlchemy URL (``postgresql+psycopg://...``)."""

    dialect = DIALECT
    driver_errors: tuple[type[BaseException], ...] = (psycopg.Error,)
    refuses_many_statements = True  # a prepared statement holds exactly one command

    def __init__(self, url: str, *, ingest: Ingest = "binary") -> None:
        if ingest not in ("binary", "csv"):
            raise ValueError(f"ingest must be 'binary' or 'csv', not {ingest!r}")
        parsed = sa.engine.make_url(url)
        self.ingest: Ingest = ingest
        self._where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
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

    def store_table(self, name: str, table: pa.Table, mode: StoreMode = "replace") -> int:
        """Through ``COPY ... (FORMAT csv)``: integers as bigint/integer, the rest as text."""
        target = quote(name)
        columns = ", ".join(f"{quote(f.name)} {_plain_type(f.type)}" for f in table.schema)
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
        with self._con.transaction(), self._con.cursor() as cursor:
            if mode == "replace":
                cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns})")
            with cursor.copy(f"COPY {target} FROM STDIN (FORMAT csv)") as copy:
                copy.write(sink.getvalue())
        return table.num_rows

    def query_arrow(self, sql: str) -> pa.Table:
        """A prepared statement (one command) in a READ ONLY transaction, rolled back."""
        with self._con.transaction(force_rollback=True), self._con.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(sql.encode(), prepare=True)
            if cursor.description is None:
                raise psycopg.ProgrammingError("the query returns no rows (not a SELECT)")
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=names)
        return pa.Table.from_pandas(frame, preserve_index=False)

    def create_staging(self, staging: str, schema: pa.Schema) -> None:
        defs = column_defs(DIALECT, schema)
        self._con.execute(
            render(DIALECT, "create_staging", staging=quote(staging), column_defs=defs)
        )

    def stage(self, staging: str, batch: pa.RecordBatch) -> None:
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

    # -- the binary path: one transaction per page -------------------------------------
    def stage_and_merge(
        self,
        table: str,
        plan: DriftPlan,
        version: str,
        batches: Iterable[pa.RecordBatch],
        hooks: LoadHooks,
        progress: LoadProgress,
    ) -> tuple[int, int | None]:
        if self.ingest != "binary":
            return super().stage_and_merge(table, plan, version, batches, hooks, progress)
        with self._con.transaction(), self._con.cursor() as cursor:
            plan = _settle_new_table(cursor, table, plan)
            schema = plan.load_schema
            pending = (align_batch(b, schema) for b in batches if b.num_rows)
            first = next(pending, None)
            # a new table's key is added once its first page is in (one sort, see
            # create_table_unkeyed.sql); an empty first page creates the table with its key
            late_key = plan.report.created_table and first is not None
            _begin(cursor, table, plan, keyed=not late_key)
            staging: str | None = None  # set when the page goes through staging + merge
            rows, merged = 0, 0
            if first is None:  # an empty page: the DDL only
                pass
            elif late_key or not self._stores_any_id(cursor, table, first):
                source = itertools.chain([first], pending)
                feed = KeptBatches(source, DIRECT_LOAD_MAX_BYTES)
                try:
                    with self._con.transaction():  # a savepoint: a failed COPY is undone alone
                        rows = copy_batches(cursor, table, schema.names, feed)
                        if late_key:  # fails here if the page repeated an id
                            cursor.execute(_add_primary_key(table))
                    merged = rows  # every row was new to the table: the merge inserts it
                except (psycopg.errors.UniqueViolation, KeepLimitError):
                    # a repeated id, or a page too big to keep: stage the kept rows and the rest
                    if late_key:  # the savepoint took the key back with the rows
                        cursor.execute(_add_primary_key(table))
                    staging, rows = self._stage_temporary(
                        cursor, table, schema, itertools.chain(feed.release(), source)
                    )
            else:
                staging, rows = self._stage_temporary(
                    cursor, table, schema, itertools.chain([first], pending)
                )
            progress.merge_next(hooks)
            if staging is not None:
                merged = self._merge_staged(cursor, table, staging, schema, version)
        return rows, merged

    def _stores_any_id(
        self, cursor: psycopg.Cursor[Any], table: str, batch: pa.RecordBatch
    ) -> bool:
        """Does ``table`` hold any id of ``batch``? (the ids are one bound parameter)"""
        ids = batch.column(ID_COLUMN).drop_null().to_pylist()
        cursor.execute(render(DIALECT, "probe_stored_ids", target=quote(table)), {"ids": ids})
        row = cursor.fetchone()
        return bool(row and row[0])

    def _stage_temporary(
        self,
        cursor: psycopg.Cursor[Any],
        table: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> tuple[str, int]:
        """COPY ``batches`` into a new temporary staging table: (its name, rows)."""
        staging = staging_name(table)
        defs = column_defs(DIALECT, schema)
        cursor.execute(
            render(DIALECT, "create_staging_temp", staging=quote(staging), column_defs=defs)
        )
        return staging, copy_batches(cursor, staging, schema.names, batches)

    def _merge_staged(
        self,
        cursor: psycopg.Cursor[Any],
        table: str,
        staging: str,
        schema: pa.Schema,
        version: str,
    ) -> int:
        cursor.execute(render(DIALECT, "count_duplicate_ids", staging=quote(staging)))
        counted = cursor.fetchone()
        duplicates = counted[0] if counted else 0
        cursor.execute(merge_statement(table, staging, schema.names, version, bool(duplicates)))
        return cursor.rowcount

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
        with self._con.transaction(), self._con.cursor() as cursor:
            plan = _settle_new_table(cursor, table, plan)
            _begin(cursor, table, plan)
            if hooks.inside_merge is not None:
                hooks.inside_merge()
            return self._merge_staged(cursor, table, staging, plan.load_schema, version)

    def drop_staging(self, staging: str) -> None:
        self._abort_copy()
        self._con.execute(render(DIALECT, "drop_table", staging=quote(staging)))

    def apply_deletions(self, table: str, pairs: list[tuple[str, datetime]]) -> int:
        deletions = quote("_stg_deletions")
        frame = deletions_batch(pairs)
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


def _begin(cursor: psycopg.Cursor[Any], table: str, plan: DriftPlan, *, keyed: bool = True) -> None:
    """The start of a page's transaction: merge settings, then the drift DDL.

    ``keyed=False``: a new table is created without its primary key (`_add_primary_key`
    adds it once the page is in).
    """
    cursor.execute(template(DIALECT, "tune_merge"))
    create = "create_table" if keyed else "create_table_unkeyed"
    for statement in drift_statements(DIALECT, table, plan, create=create):
        cursor.execute(statement)


def _settle_new_table(cursor: psycopg.Cursor[Any], table: str, plan: DriftPlan) -> DriftPlan:
    """Two loads that both planned to create ``table``: the second waits, then loads into it.

    A plan made outside the page's transaction can be stale: another process (a concurrent
    export of the same module) may create the table in between, and a second CREATE TABLE
    would fail with ``DuplicateTable`` (or wait for the first, then fail on ``pg_type``). So
    a create takes a transaction-level advisory lock on the table's name (held until the
    commit), then looks again: if the table now exists the page is planned against it. A
    table created meanwhile with other columns is a `ConcurrentCreateError` (retriable).
    """
    if not plan.report.created_table:
        return plan
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", (_CREATE_LOCK_SPACE, table)
    )
    cursor.execute(template(DIALECT, "table_columns"), {"table": quote(table)})
    fields = [pa.field(name, arrow_type(kind)) for name, kind in cursor.fetchall()]
    if not fields:
        return plan
    page = pa.schema([f for f in plan.target_schema if f.name != DELETED_AT_COLUMN])
    fresh = plan_drift(table, page, pa.schema(fields), plan.report.policy)
    if not fresh.load_schema.equals(plan.load_schema) or fresh.add_columns or fresh.widen_columns:
        raise ConcurrentCreateError(table)
    return fresh


class ConcurrentCreateError(psycopg.errors.DuplicateTable):
    """Another process created the table this page meant to create, with other columns."""

    def __init__(self, table: str) -> None:
        super().__init__(
            f"table {table!r} was created by another load meanwhile, with other columns; "
            "load the page again to plan it against that table"
        )


def _add_primary_key(table: str) -> str:
    return render(DIALECT, "add_primary_key", target=quote(table))


def _plain_type(arrow: pa.DataType) -> str:
    if pa.types.is_int64(arrow):
        return "bigint"
    if pa.types.is_integer(arrow):
        return "integer"
    return "text"


def merge_statement(
    table: str, staging: str, columns: Iterable[str], version: str, dedup: bool
) -> str:
    """``merge.sql`` (each id staged once) or ``merge_dedup.sql``, filled in."""
    names = list(columns)
    excluded = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in names if c != ID_COLUMN)
    return render(
        DIALECT,
        "merge_dedup" if dedup else "merge",
        target=quote(table),
        staging=quote(staging),
        version=quote(version),
        columns=column_list(names),
        excluded_assignments=excluded,
    )


class _End:
    """Queue marker: the page is complete."""


class _Abort:
    """Queue marker: the caller failed; the COPY must fail too (nothing is committed)."""


class CopyAbortedError(RuntimeError):
    """Raised into the COPY stream when the reading side failed (the reader's error wins)."""


def copy_batches(
    cursor: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[str],
    batches: Iterable[pa.RecordBatch],
) -> int:
    """Send ``batches`` (their columns named ``columns``) into ``table`` with ONE binary COPY.

    This thread encodes (`transforms.warehouse.pgbinary`: ``COPY_FIRST_BLOCK_ROWS``, then twice
    as many each time up to ``COPY_BLOCK_ROWS``) while a helper thread writes what is encoded
    to the connection, and the server stores it: the queue between them holds at most
    ``COPY_QUEUE_DEPTH`` encoded batches. If the COPY fails before the end, encoding stops (the
    rest of ``batches`` stays unread) and its error is raised; if ``batches`` raises (a
    `KeptBatches` past its limit, say), the COPY is aborted (nothing of it is stored) and that
    error is raised. Returns the rows sent.
    """
    statement = render(DIALECT, "copy_binary", target=quote(table), columns=column_list(columns))
    slots: queue.Queue[pa.Buffer | type[_End] | type[_Abort]] = queue.Queue(
        maxsize=COPY_QUEUE_DEPTH
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with cursor.copy(statement) as copy:
                copy.write(COPY_HEADER)
                while (item := slots.get()) is not _End:
                    if item is _Abort:
                        raise CopyAbortedError("the page could not be read; COPY aborted")
                    assert isinstance(item, pa.Buffer)
                    copy.write(memoryview(item))
                copy.write(COPY_TRAILER)
        except BaseException as exc:  # raised in the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=run, name="pg-copy", daemon=True)
    worker.start()
    rows, block_rows = 0, COPY_FIRST_BLOCK_ROWS
    pending = iter(batches)
    try:
        while block := take_rows(pending, block_rows):
            if not all(_offer(slots, encoded, worker) for encoded in encode_rows(block)):
                break  # the COPY ended early: it failed
            rows += sum(batch.num_rows for batch in block)
            block_rows = min(2 * block_rows, COPY_BLOCK_ROWS)
        else:
            _offer(slots, _End, worker)
    except BaseException:
        _offer(slots, _Abort, worker)
        worker.join()
        raise
    worker.join()
    if failure:
        raise failure[0]
    return rows


def _offer(
    slots: queue.Queue[pa.Buffer | type[_End] | type[_Abort]],
    item: pa.Buffer | type[_End] | type[_Abort],
    worker: threading.Thread,
) -> bool:
    """Queue ``item`` for the COPY thread; False when that thread has already stopped."""
    while worker.is_alive():
        try:
            slots.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


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
