"""The loader every dialect shares: plan drift, stage the page, merge in one transaction.

``Warehouse.load`` is the whole protocol:

1. read the table's current columns and plan the drift (`transforms.drift.plan_drift`);
   with policy ``freeze`` a type change fails here, before any data moves;
2. create a temporary staging table shaped like the table after the load, and append every
   batch of the page to it (cast to the table's types, missing columns null);
3. in **one transaction**: create the table or apply the drift (add/widen columns), then
   merge staging into the table on ``id`` (newest ``Modified_Time`` wins);
4. drop the staging table.

A failure anywhere before the commit of step 3 leaves the table exactly as it was; loading
the same page again completes it. Dialects implement the small abstract methods.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Literal

import pyarrow as pa

from transforms.drift import DriftPlan, DriftPolicy, DriftReport, align_batch, plan_drift
from transforms.errors import WarehouseError
from transforms.identifiers import validate_api_name, validate_internal_name
from transforms.schema import EXTRACTED_AT_COLUMN, ID_COLUMN, UTC_TIMESTAMP, VERSION_COLUMN

Hook = Callable[[], None]
#: rows per `Warehouse.stage` call: the reader's batches are small (fast to parse), while
#: each staging statement has a fixed cost (DuckDB: ~2x slower staging with 2,000-row calls)
STAGE_BATCH_ROWS = 32_768
#: the most Arrow data a direct load (a page copied straight into the table, on the guess
#: that its ids are new) keeps for its fallback to staging + merge (a 200,000-row Leads page
#: is ~110 MB); a bigger page is staged instead, so memory stays bounded whatever its size
DIRECT_LOAD_MAX_BYTES = 384 << 20


class KeepLimitError(RuntimeError):
    """A direct load kept ``DIRECT_LOAD_MAX_BYTES``: it is aborted and the page staged."""


class KeptBatches:
    """A page's batches on their way into a direct load, kept for a fallback to staging.

    Iterating passes ``batches`` on and keeps each one; past ``limit`` bytes kept it stops
    with `KeepLimitError`. Any error of the page's own stream is remembered in ``error`` (a
    driver may report it as its own). The batches not yet taken stay in ``batches``.
    """

    def __init__(self, batches: Iterator[pa.RecordBatch], limit: int) -> None:
        self._batches = batches
        self._limit = limit
        self.kept: list[pa.RecordBatch] = []
        self.rows = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        kept_bytes = 0
        try:
            for batch in self._batches:
                self.kept.append(batch)
                self.rows += batch.num_rows
                kept_bytes += batch.nbytes
                if kept_bytes > self._limit:
                    raise KeepLimitError(f"more than {self._limit} bytes kept")
                yield batch
        except BaseException as exc:
            self.error = exc
            raise

    def release(self) -> list[pa.RecordBatch]:
        """The kept batches, handed over (none are kept from now on)."""
        kept, self.kept = self.kept, []
        return kept


@dataclass(frozen=True)
class LoadHooks:
    """Test and instrumentation points of a load (both default to doing nothing).

    ``after_staging`` runs once the page is staged, before the merge; ``inside_merge`` runs
    inside the merge transaction after the drift DDL, before the merge statement. (PostgreSQL
    stages inside the merge transaction, so both run in it.) An exception from either aborts
    the load with the table unchanged.
    """

    after_staging: Hook | None = None
    inside_merge: Hook | None = None


@dataclass
class LoadProgress:
    """Where a running load is: the step named by errors, and when staging ended."""

    step: str = "reading the table's columns"
    staged_at: float | None = None

    def merge_next(self, hooks: LoadHooks) -> None:
        """For loads that stage and merge in ONE transaction: staging is over, the merge is
        next; both hooks run here, in that transaction."""
        self.staged_at = time.perf_counter()
        if hooks.after_staging is not None:
            hooks.after_staging()
        self.step = "merging"
        if hooks.inside_merge is not None:
            hooks.inside_merge()


@dataclass(frozen=True)
class MergeResult:
    """What one load did to one table."""

    table: str
    rows_staged: int
    rows_merged: int | None
    drift: DriftReport
    seconds: float = field(default=0.0, compare=False)
    #: time spent staging (including reading the page, which streams into staging)
    stage_seconds: float = field(default=0.0, compare=False)
    #: time of the merge transaction (drift DDL + merge statement + commit)
    merge_seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "rows_staged": self.rows_staged,
            "rows_merged": self.rows_merged,
            "drift": self.drift.to_dict(),
            "seconds": round(self.seconds, 3),
            "stage_seconds": round(self.stage_seconds, 3),
            "merge_seconds": round(self.merge_seconds, 3),
        }


StoreMode = Literal["replace", "append"]


class Warehouse(ABC):
    """A warehouse connection that loads pages into tables and marks deleted records."""

    dialect: str = ""
    #: Driver exceptions that mean "the warehouse failed" (wrapped in `WarehouseError`).
    driver_errors: tuple[type[BaseException], ...] = ()
    #: Whether `store_table` keeps nested values (lists, structs) as they are.
    stores_nested: bool = False
    #: Whether the server itself refuses a query text holding more than one statement.
    refuses_many_statements: bool = False

    # -- public API -------------------------------------------------------------------
    def load(
        self,
        table: str,
        page_schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        policy: DriftPolicy = "evolve",
        hooks: LoadHooks | None = None,
    ) -> MergeResult:
        """Stage ``batches`` (all shaped like ``page_schema``) and merge them into ``table``."""
        hooks = hooks or LoadHooks()
        started = time.perf_counter()
        validate_api_name(table, "table")
        require_id(page_schema)
        page_schema = self.storable_schema(page_schema)
        progress = LoadProgress()
        try:
            plan = plan_drift(table, page_schema, self.table_schema(table), policy)
            # the page decides: a page without Modified_Time compares extraction times
            version = version_column(page_schema)
            progress.step = "staging"
            rows, merged = self.stage_and_merge(table, plan, version, batches, hooks, progress)
            done = time.perf_counter()
        except self.driver_errors as exc:
            raise WarehouseError(table, progress.step, exc) from exc
        staged = progress.staged_at if progress.staged_at is not None else done
        return MergeResult(
            table,
            rows,
            merged,
            plan.report,
            seconds=time.perf_counter() - started,
            stage_seconds=staged - started,
            merge_seconds=done - staged,
        )

    def stage_and_merge(
        self,
        table: str,
        plan: DriftPlan,
        version: str,
        batches: Iterable[pa.RecordBatch],
        hooks: LoadHooks,
        progress: LoadProgress,
    ) -> tuple[int, int | None]:
        """Steps 2-4 of `load`: returns (rows staged, rows merged or None when unknown).

        The shared protocol: a staging table, one `stage` per batch, then `merge` in one
        transaction. A dialect may replace it (PostgreSQL does) if it keeps the guarantees:
        nothing visible in ``table`` before the commit, hooks called as `LoadHooks` says,
        ``progress`` updated (step names show in `WarehouseError`).
        """
        staging = staging_name(table)
        load_schema = plan.load_schema
        self.create_staging(staging, load_schema)
        try:
            rows = 0
            aligned = (align_batch(b, load_schema) for b in batches if b.num_rows)
            for batch in coalesce(aligned, STAGE_BATCH_ROWS):
                self.stage(staging, batch)
                rows += batch.num_rows
            self.finish_staging(staging)
            progress.staged_at = time.perf_counter()
            if hooks.after_staging is not None:
                hooks.after_staging()
            progress.step = "merging"
            merged = self.merge(table, staging, plan, version, hooks)
        finally:
            self._drop_quietly(staging)
        return rows, merged

    def mark_deleted(self, table: str, deletions: Iterable[tuple[str, datetime]]) -> int:
        """Stamp ``_zoho_deleted_at`` on the rows of ``table`` whose ids Zoho reports deleted.

        Rows are kept. Returns how many rows were marked; ids not in the table are ignored,
        and a table that does not exist yet marks nothing.
        """
        validate_api_name(table, "table")
        pairs = [(str(record_id), when) for record_id, when in deletions]
        if not pairs or self.table_schema(table) is None:
            return 0
        try:
            return self.apply_deletions(table, pairs)
        except self.driver_errors as exc:
            raise WarehouseError(table, "marking deleted records", exc) from exc

    @abstractmethod
    def table_schema(self, table: str) -> pa.Schema | None:
        """The table's columns as an Arrow schema, or None when there is no such table."""

    @abstractmethod
    def read_table(self, table: str) -> pa.Table:
        """Every row of ``table`` ordered by id (for tests, checks and small exports)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _drop_quietly(self, staging: str) -> None:
        # Staging is temporary; failing to drop it must not hide the load's own error.
        with contextlib.suppress(*self.driver_errors):
            self.drop_staging(staging)

    # -- tables that are not pages (write-back results, sources) -----------------------
    @abstractmethod
    def store_table(self, name: str, table: pa.Table, mode: StoreMode = "replace") -> int:
        """Create (``replace``: replace) table ``name`` from ``table``, or append to it.

        ``name`` must already be a checked identifier; returns the rows written.
        """

    @abstractmethod
    def query_arrow(self, sql: str) -> pa.Table:
        """Run one SELECT in a READ ONLY transaction that is rolled back; its rows."""

    # -- what a dialect implements ----------------------------------------------------
    def storable_schema(self, schema: pa.Schema) -> pa.Schema:
        """The page schema as this dialect stores it (identity unless a type is missing)."""
        return schema

    @abstractmethod
    def create_staging(self, staging: str, schema: pa.Schema) -> None: ...

    @abstractmethod
    def stage(self, staging: str, batch: pa.RecordBatch) -> None: ...

    def finish_staging(self, staging: str) -> None:  # noqa: B027 (optional hook)
        """Called once every batch is staged (a dialect streaming into staging flushes here)."""

    @abstractmethod
    def merge(
        self, table: str, staging: str, plan: DriftPlan, version: str, hooks: LoadHooks
    ) -> int | None:
        """Create/alter ``table`` per ``plan`` and merge ``staging`` into it, atomically."""

    @abstractmethod
    def drop_staging(self, staging: str) -> None: ...

    @abstractmethod
    def apply_deletions(self, table: str, pairs: list[tuple[str, datetime]]) -> int: ...


def deletions_batch(pairs: list[tuple[str, datetime]]) -> pa.RecordBatch:
    """``(id, deleted_at)`` pairs as the Arrow batch the dialects stage before marking rows."""
    return pa.record_batch(
        {
            "id": pa.array([p[0] for p in pairs], pa.string()),
            "deleted_at": pa.array([p[1] for p in pairs], UTC_TIMESTAMP),
        }
    )


def coalesce(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` regrouped into batches of at least ``rows`` rows (the last may be smaller).

    Empty batches are dropped; a batch already big enough passes through without a copy.
    """
    group: list[pa.RecordBatch] = []
    pending = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        group.append(batch)
        pending += batch.num_rows
        if pending >= rows:
            yield group[0] if len(group) == 1 else pa.concat_batches(group)
            group, pending = [], 0
    if group:
        yield group[0] if len(group) == 1 else pa.concat_batches(group)


def take_rows(batches: Iterator[pa.RecordBatch], rows: int) -> list[pa.RecordBatch]:
    """The first batches of ``batches`` holding at least ``rows`` rows (fewer at the end)."""
    taken: list[pa.RecordBatch] = []
    count = 0
    while count < rows and (batch := next(batches, None)) is not None:
        taken.append(batch)
        count += batch.num_rows
    return taken


def staging_name(table: str) -> str:
    """A fresh staging table name for ``table`` (internal names are lower case)."""
    return validate_internal_name(f"_stg_{table.lower()[:40]}_{uuid.uuid4().hex[:10]}")


def version_column(schema: pa.Schema) -> str:
    """``Modified_Time`` when the page has it, else the extraction time."""
    return VERSION_COLUMN if VERSION_COLUMN in schema.names else EXTRACTED_AT_COLUMN


def require_id(schema: pa.Schema) -> None:
    """Every merge keys on ``id``; a schema without it is a programming error."""
    if ID_COLUMN not in schema.names:
        raise ValueError("a page without an 'id' column cannot be merged")
