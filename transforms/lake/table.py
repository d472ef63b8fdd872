"""One Zoho module as one Delta Lake table: one row per ``id``, soft deletes, time travel.

Writing (every page is **one Delta commit**, so a reader sees all of a page or none of it):

- `LakeTable.append_page`: the pages of a first (full) load. The page streams into delta-rs
  as it is read (`transforms.lake.page.NewIdsFeed` keeps its batches); after its last batch
  its ids are checked, inside the page and against the table (one scan of the ``id``
  column, files pruned by their min/max). A page of new ids is committed as an append; a
  page that repeats an id stops the write before its commit and is merged instead, so the
  table never holds an id twice.
- `LakeTable.merge_page`: later pages and incremental runs. ``MERGE`` on ``id``; a stored
  row is replaced when it has no ``Modified_Time`` or the page's is the same or newer (an
  older ``Modified_Time`` never overwrites). A page without ``Modified_Time`` compares
  ``_extracted_at``. A page that repeats an id keeps its newest row. The same rule as the
  warehouse (``sql/duckdb/merge.sql``). Only the data files whose ``id`` range the page
  touches are read; a local table is merged by `transforms.lake.local_merge` (rewriting
  those files, or with ``deletion_vectors`` marking the replaced rows), any other by
  delta-rs' ``MERGE``.
- `LakeTable.mark_deleted`: stamps ``_zoho_deleted_at`` on the ids Zoho reports deleted;
  rows are never removed. As in the warehouse, a deleted id delivered again keeps its
  mark (the page's columns are replaced, ``_zoho_deleted_at`` is not a page column).

Crash safety: a page commit records a Delta *app transaction* ``zoho-etl-page:{page_id}``;
a page (or deletion batch) already committed is skipped, whatever the caller's own ledger
says. A process killed before or inside a commit leaves the table at its last version
(Delta's log only ever gains whole commit files); the data files it wrote are invisible
and `LakeTable.vacuum` removes them.

Schema drift follows the module's drift policy through `transforms.drift.plan_drift`:
``freeze`` raises `SchemaDriftError` (field, old and new type) before anything is written;
``evolve`` adds new columns in the page's commit and, when a column has to be widened,
first rewrites the table with the wider type in its own commit (Delta cannot alter a
column's type in place), then commits the page. Types are converted by
`transforms.lake.types` first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError

from transforms.drift import DriftPlan, DriftPolicy, align_batch, plan_drift
from transforms.errors import LakeTableError
from transforms.identifiers import validate_api_name, validate_path_token
from transforms.lake.adopt import local_directory
from transforms.lake.deletion_vectors import unreferenced_files
from transforms.lake.local_merge import mark_deleted_locally, merge_locally
from transforms.lake.page import (
    NewIdsFeed,
    PageCommit,
    PageData,
    align_table,
    app_id,
    commit_metadata,
    commit_properties,
    lake_batches,
    newest_per_id,
)
from transforms.lake.reading import has_deletion_vectors, holds_any, read_arrow
from transforms.lake.types import from_delta_schema
from transforms.parquet import DICTIONARY_PAGE_LIMIT
from transforms.schema import DELETED_AT_COLUMN, ID_COLUMN, UTC_TIMESTAMP
from transforms.warehouse.base import require_id, version_column

#: VACUUM keeps files a reader of the last 7 days may still need (Delta's own default)
DEFAULT_VACUUM_RETENTION = timedelta(days=7)
#: zstd and the dictionary limit of the per-page Parquet files (`transforms.parquet`)
WRITER_PROPERTIES = WriterProperties(
    compression="ZSTD", dictionary_page_size_limit=DICTIONARY_PAGE_LIMIT
)
#: commits between checkpoints (delta-rs' default is 100): every page is a commit, and each
#: open of the table replays the JSON commits since the last checkpoint
CHECKPOINT_INTERVAL = 10
#: data files of ~4 MiB (~30,000 Leads rows; ``delta.targetFileSize``, set when the table is
#: created): a merge rewrites only the files holding a changed id, so smaller files make an
#: incremental run of recent records cheap, while a 1,000,000-row table stays ~25 files
DEFAULT_TARGET_FILE_BYTES = 4 << 20


class LakeTable:
    """A module's Delta table at ``location`` (a local path or any URI delta-rs supports)."""

    def __init__(
        self,
        location: str,
        name: str,
        *,
        drift_policy: DriftPolicy = "evolve",
        storage_options: Mapping[str, str] | None = None,
        target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
        deletion_vectors: bool = False,
    ) -> None:
        self.location = location
        #: merges mark replaced rows in deletion vectors (`transforms.lake.local_merge`)
        self.deletion_vectors = deletion_vectors
        self.target_file_bytes = target_file_bytes
        self.name = name
        self.drift_policy = drift_policy
        self.storage_options = dict(storage_options or {})

    @classmethod
    def open(
        cls,
        root: str,
        product: str,
        module: str,
        *,
        drift_policy: DriftPolicy = "evolve",
        storage_options: Mapping[str, str] | None = None,
        deletion_vectors: bool = False,
    ) -> LakeTable:
        """The table of ``product``/``module`` under the lake ``root`` (made by its first page)."""
        validate_api_name(product, "product")
        validate_api_name(module, "module")
        location = f"{str(root).rstrip('/')}/{product}/{module}"
        return cls(
            location,
            f"{product}/{module}",
            drift_policy=drift_policy,
            storage_options=storage_options,
            deletion_vectors=deletion_vectors,
        )

    # -- reading -------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return DeltaTable.is_deltatable(self.location, self.storage_options or None)

    def delta_table(self) -> DeltaTable:
        """The current version as a `deltalake.DeltaTable` (``to_pandas``, ``history``, ...)."""
        return DeltaTable(self.location, storage_options=self.storage_options or None)

    @property
    def version(self) -> int | None:
        """The table's current version (``None``: no page committed yet)."""
        return self.delta_table().version() if self.exists else None

    def schema(self) -> pa.Schema | None:
        if not self.exists:
            return None
        return from_delta_schema(pa.schema(self.delta_table().schema().to_arrow()))

    def as_of(self, version_or_time: int | datetime) -> DeltaTable:
        """The table as it was at a version number or at a (timezone-aware) point in time."""
        table = self.delta_table()
        if isinstance(version_or_time, datetime) and version_or_time.tzinfo is None:
            raise ValueError("as_of needs a timezone-aware datetime (UTC recommended)")
        table.load_as_version(version_or_time)
        return table

    def read(self, *, live_only: bool = False, version: int | datetime | None = None) -> pa.Table:
        """The whole table (or one version) as Arrow, in the page's types."""
        table = self.delta_table() if version is None else self.as_of(version)
        where = pc.field(DELETED_AT_COLUMN).is_null() if live_only else None
        return read_arrow(table, where=where)

    def committed(self, page_id: str) -> bool:
        """Whether the page (or deletion batch) ``page_id`` is already in the table."""
        if not self.exists:
            return False
        return self.delta_table().transaction_version(app_id(page_id)) is not None

    # -- writing -------------------------------------------------------------------------
    def append_page(
        self, data: PageData, page_id: str, schema: pa.Schema | None = None
    ) -> PageCommit:
        """Commit a page of a first (full) load: appended when its ids are new, else merged."""
        return self._write_page(data, page_id, schema, merge=False)

    def merge_page(
        self, data: PageData, page_id: str, schema: pa.Schema | None = None
    ) -> PageCommit:
        """Commit a page of an incremental run: merged on ``id``, newest version winning."""
        return self._write_page(data, page_id, schema, merge=True)

    def mark_deleted(
        self, deletions: Iterable[tuple[str, datetime]], batch_id: str | None = None
    ) -> int:
        """Stamp ``_zoho_deleted_at`` on stored rows; returns how many rows were stamped."""
        pairs = list(deletions)
        if not pairs or not self.exists or (batch_id is not None and self.committed(batch_id)):
            return 0
        source = pa.table(
            {
                ID_COLUMN: pa.array([p[0] for p in pairs], pa.string()),
                "deleted_at": pa.array([p[1] for p in pairs], UTC_TIMESTAMP),
            }
        )
        source = source.group_by(ID_COLUMN).aggregate([("deleted_at", "max")])
        source = pa.table({ID_COLUMN: source[ID_COLUMN], "deleted_at": source["deleted_at_max"]})
        metadata = {"zoho_etl_operation": "mark_deleted", "zoho_etl_rows": str(len(pairs))}
        try:
            stamped = mark_deleted_locally(self, source, batch_id, metadata)
            if stamped is not None:
                return stamped
            metrics = (
                self.delta_table()
                .merge(
                    source,
                    f't."{ID_COLUMN}" = s."{ID_COLUMN}"',
                    source_alias="s",
                    streamed_exec=False,  # the page is in memory: lets delta-rs skip files
                    target_alias="t",
                    writer_properties=WRITER_PROPERTIES,
                    commit_properties=commit_properties(batch_id, metadata),
                )
                .when_matched_update({DELETED_AT_COLUMN: "s.deleted_at"})
                .execute()
            )
        except DeltaError as exc:
            raise LakeTableError(self.name, "marking deleted records", exc) from exc
        return int(metrics.get("num_target_rows_updated", 0))

    # -- maintenance ---------------------------------------------------------------------
    def optimize(self, target_size: int | None = None) -> dict[str, Any]:
        """Compact small files into ones of ``target_size`` bytes (default: the table's).

        A new version; the data is unchanged. Pages of a few rows each leave small files.
        """
        table = self.delta_table()
        return dict(
            table.optimize.compact(
                target_size=target_size or self.target_file_bytes,
                writer_properties=WRITER_PROPERTIES,
            )
        )

    def vacuum(
        self, retention: timedelta = DEFAULT_VACUUM_RETENTION, *, dry_run: bool = False
    ) -> list[str]:
        """Delete files no version younger than ``retention`` uses; returns the files it
        considered (files a later vacuum lists again are already gone).

        Time travel to a version older than ``retention`` may fail afterwards.
        """
        # delta-rs counts whole hours: round up, never delete a file younger than asked
        hours = math.ceil(retention.total_seconds() / 3600)
        removed = self.delta_table().vacuum(
            retention_hours=hours, dry_run=dry_run, enforce_retention_duration=False
        )
        directory = local_directory(self.location)
        if directory is None:
            return list(removed)
        orphans = unreferenced_files(directory, time.time() - hours * 3600)
        if not dry_run:
            for path in orphans:
                path.unlink(missing_ok=True)
        return [*removed, *(str(p) for p in orphans)]

    # -- internals -----------------------------------------------------------------------
    def _write_page(
        self, data: PageData, page_id: str, schema: pa.Schema | None, *, merge: bool
    ) -> PageCommit:
        started = time.perf_counter()
        validate_path_token(page_id, "page id")
        if self.committed(page_id):
            return PageCommit(page_id, "skipped", 0, self._current_version(), seconds=0.0)
        page_schema, batches = lake_batches(data, schema)
        require_id(page_schema)
        existing = self.schema()
        plan = plan_drift(self.name, page_schema, existing, self.drift_policy)
        version = version_column(page_schema)
        step = "appending the page"
        try:
            if (existing is None or not merge) and not plan.widen_columns:
                feed = NewIdsFeed(batches, plan.target_schema, self.has_stored_ids)
                if self._append(feed.stream(), plan, page_id, existing is None, feed):
                    return self._appended(page_id, feed.rows, plan, started)
                batches = iter(feed.kept)  # an id repeats: nothing was committed; merge
            page = newest_per_id(pa.Table.from_batches(list(batches), page_schema), version)
            if plan.widen_columns:
                step = "widening columns"
                self._rewrite_with(plan, page_id)
            if existing is None:  # a new table: ids repeated inside the page
                self._append(align_table(page, plan.target_schema), plan, page_id, True, None)
                return self._appended(page_id, page.num_rows, plan, started)
            step = "merging the page"
            return self._merge(page, plan, version, page_id, started)
        except DeltaError as exc:
            raise LakeTableError(self.name, step, exc) from exc

    def _append(
        self,
        data: pa.Table | Iterator[pa.RecordBatch],
        plan: DriftPlan,
        page_id: str,
        creates: bool,
        feed: NewIdsFeed | None,
    ) -> bool:
        """One append commit; False when ``feed`` stopped it (an id repeats: no commit)."""
        if not isinstance(data, pa.Table):
            data = pa.RecordBatchReader.from_batches(plan.target_schema, data)
        try:
            write_deltalake(
                self.location,
                data,
                mode="append",
                schema_mode="merge" if plan.add_columns else None,
                configuration=self.configuration() if creates else None,
                storage_options=self.storage_options or None,
                writer_properties=WRITER_PROPERTIES,
                commit_properties=commit_properties(page_id, commit_metadata("append")),
            )
        except DeltaError:
            if feed is not None and feed.error is not None:
                raise feed.error from None  # the page's own stream failed: say so
            if feed is not None and feed.repeats:
                return False
            raise
        return True

    def _appended(self, page_id: str, rows: int, plan: DriftPlan, started: float) -> PageCommit:
        version = self._current_version()
        seconds = time.perf_counter() - started
        return PageCommit(page_id, "append", rows, version, plan.report, rows, 0, seconds)

    def _merge(
        self, page: pa.Table, plan: DriftPlan, version: str, page_id: str, started: float
    ) -> PageCommit:
        merged = merge_locally(self, page, plan, version, page_id)
        if merged is not None:
            return merged
        source = align_table(page, plan.load_schema)
        newer = f't."{version}" IS NULL OR s."{version}" >= t."{version}"'
        metrics = (
            self.delta_table()
            .merge(
                source,
                f't."{ID_COLUMN}" = s."{ID_COLUMN}"',
                source_alias="s",
                streamed_exec=False,  # the page is in memory: lets delta-rs skip files
                target_alias="t",
                merge_schema=bool(plan.add_columns),
                writer_properties=WRITER_PROPERTIES,
                commit_properties=commit_properties(
                    page_id, commit_metadata("merge", page.num_rows)
                ),
            )
            .when_matched_update_all(predicate=newer)
            .when_not_matched_insert_all()
            .execute()
        )
        return PageCommit(
            page_id,
            "merge",
            page.num_rows,
            self._current_version(),
            plan.report,
            rows_inserted=int(metrics.get("num_target_rows_inserted", 0)),
            rows_updated=int(metrics.get("num_target_rows_updated", 0)),
            seconds=time.perf_counter() - started,
        )

    def has_stored_ids(self, ids: pa.ChunkedArray, current: DeltaTable | None = None) -> bool:
        """Whether any of ``ids`` is already stored (``current``: the table, if open);
        see `transforms.lake.reading.holds_any`."""
        if len(ids) == 0 or (current is None and not self.exists):
            return False
        return holds_any(current or self.delta_table(), ids)

    def _rewrite_with(self, plan: DriftPlan, page_id: str) -> None:
        """Rewrite the table with the widened column types, in one commit of its own."""
        current = self.delta_table()
        stored_names = set(pa.schema(current.schema().to_arrow()).names)
        stored = pa.schema([f for f in plan.target_schema if f.name in stored_names])
        if has_deletion_vectors(current):
            rows = read_arrow(current).to_batches()
        else:
            rows = current.to_pyarrow_dataset().scanner().to_batches()
        batches = (align_batch(b, stored) for b in rows)
        reader = pa.RecordBatchReader.from_batches(stored, batches)
        widened = ", ".join(f"{name}: {old} -> {new}" for name, old, new in plan.widen_columns)
        metadata = {"zoho_etl_operation": "widen_columns", "zoho_etl_widened": widened}
        metadata["zoho_etl_page"] = page_id
        write_deltalake(
            self.location,
            reader,
            mode="overwrite",
            schema_mode="overwrite",
            configuration=self.configuration(),
            writer_properties=WRITER_PROPERTIES,
            storage_options=self.storage_options or None,
            commit_properties=CommitProperties(custom_metadata=metadata),
        )

    def configuration(self) -> dict[str, str | None]:
        """A new table's properties: its data files' size, and a checkpoint every
        ``CHECKPOINT_INTERVAL`` commits (opening the table reads the log since the last)."""
        return {
            "delta.targetFileSize": str(self.target_file_bytes),
            "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
        }

    def _current_version(self) -> int:
        return self.delta_table().version()
