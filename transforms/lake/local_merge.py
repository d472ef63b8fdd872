"""Merges and deletion marks on a local lake table, written by this tool, not by delta-rs.

A merge (or a deletion batch) replaces some stored rows with new versions. On a table on the
local file system this module does it in one Delta commit of its own:

1. the files whose ``id`` range meets the incoming ids are read (``id``, version and
   ``_zoho_deleted_at`` columns; for deletion marks the whole rows), rows a file's deletion
   vector already deletes skipped;
2. per stored id the decision is the copy-on-write merge's: a page row replaces the stored
   one when the stored version is null or the page's is the same or newer, an older page row
   is dropped, the stored ``_zoho_deleted_at`` is carried over; a deletion mark replaces the
   row with itself, stamped;
3. the replacing rows are written as one new data file, and each file that held a replaced
   row is either **rewritten** without it (copy-on-write, the default) or given a
   **deletion vector** naming it (``ZOHO_ETL_LAKE_DELETION_VECTORS``,
   `transforms.lake.deletion_vectors`), joined with the vector it had;
4. one commit holds the new file, each touched file's remove and add, the page's app
   transaction and, the first time vectors are written, the protocol upgrade.

Why not delta-rs' MERGE: its files store strings as Arrow ``string_view``, which the table
declares as ``string``, and pyarrow (the engine behind ``DeltaTable.to_pyarrow_dataset``,
``to_pandas`` filters and DuckDB over the dataset) cannot compare the two, so a filter on a
text column failed after the first incremental run (delta-io/delta-rs#4579). Files written
here keep the table's types. And with vectors, a merge of changes spread over the whole table
writes those rows once instead of rewriting every file.

With vectors on, the table is read by readers that apply them: delta-rs' ``DeltaTable.scan()``
and its query engine, Spark, Databricks, DuckDB's ``delta`` extension; delta-rs'
``to_pyarrow_dataset`` and ``to_pandas`` refuse such a table rather than return deleted rows.
A lake on object storage, or a page that adds a column, goes through delta-rs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

from transforms.drift import DriftPlan
from transforms.errors import LakeTableError
from transforms.lake.adopt import local_directory
from transforms.lake.deletion_vectors import TableLog, write_vector
from transforms.lake.page import PageCommit, align_table, app_id, commit_metadata
from transforms.lake.stats import file_stats
from transforms.lake.types import from_delta_schema, lake_schema
from transforms.parquet import DICTIONARY_PAGE_LIMIT
from transforms.schema import DELETED_AT_COLUMN, ID_COLUMN

if TYPE_CHECKING:
    from transforms.lake.table import LakeTable

#: data files read, rewritten or given a vector at once (pyarrow releases the GIL)
REWRITE_THREADS = 2


@dataclass
class Replacement:
    """New versions of stored rows: ``rows`` to write, ``replaced`` positions per file."""

    rows: pa.Table
    replaced: dict[str, np.ndarray]

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.replaced.values())


class LocalTable:
    """A local table's log and live rows, read once for one commit."""

    def __init__(self, table: LakeTable, directory: Path, current: DeltaTable, log: TableLog):
        self.table = table
        self.directory = directory
        self.current = current
        self.log = log
        self.schema = lake_schema(from_delta_schema(pa.schema(current.schema().to_arrow())))
        self.live = _live_rows(current, directory)

    @classmethod
    def open(cls, table: LakeTable) -> LocalTable | None:
        """None when the table is not on the local file system (delta-rs writes it)."""
        directory = local_directory(table.location)
        if directory is None or not table.exists:
            return None
        current = table.delta_table()
        log = TableLog.read(directory)
        if log.version != current.version():
            return None  # a writer committed between the two reads: let delta-rs do it
        return cls(table, directory, current, log)

    def stored(self, path: str, columns: list[str] | None) -> tuple[pa.Table, np.ndarray]:
        """A file's live rows (``columns``, null where the file lacks one) and positions."""
        file = self.directory / path
        present = set(pq.read_schema(file).names)
        wanted = None if columns is None else [c for c in columns if c in present]
        data = pq.read_table(file, columns=wanted)
        data = data.cast(lake_schema(data.schema))  # delta-rs writes strings as views
        for name in columns or ():
            if name not in present:
                kind = self.schema.field(name).type if name in self.schema.names else pa.null()
                data = data.append_column(name, pa.nulls(data.num_rows, kind))
        positions = np.flatnonzero(self.live.get(path, np.ones(data.num_rows, dtype=bool)))
        return data.take(pa.array(positions)), positions

    def read_files(
        self, paths: list[str], columns: list[str]
    ) -> Iterator[tuple[str, tuple[pa.Table, np.ndarray]]]:
        """`stored` of each of ``paths``, read ``REWRITE_THREADS`` at a time, in order."""
        with ThreadPoolExecutor(max_workers=REWRITE_THREADS) as pool:
            yield from zip(paths, pool.map(lambda p: self.stored(p, columns), paths), strict=True)

    def files_meeting(self, ids: pa.Array | pa.ChunkedArray) -> list[str]:
        """The live files whose ``id`` statistics meet the range of ``ids`` (or have none)."""
        low, high = pc.min(ids).as_py(), pc.max(ids).as_py()
        if low is None or high is None:  # an empty page meets no file
            return []
        meeting = []
        for path, add in self.log.files.items():
            stats = json.loads(add.get("stats") or "{}")
            smallest = stats.get("minValues", {}).get(ID_COLUMN)
            largest = stats.get("maxValues", {}).get(ID_COLUMN)
            if smallest is None or largest is None or (smallest <= high and largest >= low):
                meeting.append(path)
        return meeting

    def commit(
        self,
        change: Replacement,
        *,
        vectors: bool,
        metadata: Mapping[str, str],
        page_id: str | None,
        step: str,
    ) -> int:
        """Write ``change`` (see module) and commit it; the new version."""
        now = int(time.time() * 1000)
        actions: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=REWRITE_THREADS) as pool:
            replaced = pool.map(
                lambda item: self._replace_file(item[0], item[1], vectors, now),
                change.replaced.items(),
            )
            for file_actions in replaced:
                actions += file_actions
        if change.rows.num_rows:
            actions.append({"add": self._write(change.rows.cast(self.schema))})
        header: list[dict[str, Any]] = [
            {
                "commitInfo": {
                    "timestamp": now,
                    "operation": "MERGE",
                    "operationParameters": {
                        "mode": "deletion vectors" if vectors else "copy-on-write"
                    },
                    "readVersion": self.log.version,
                    "isBlindAppend": False,
                    **metadata,
                }
            }
        ]
        upgrade = self.log.protocol_with_deletion_vectors()
        if vectors and upgrade and change.replaced:
            header.append({"protocol": upgrade})
        if page_id is not None:
            header.append({"txn": {"appId": app_id(page_id), "version": 1, "lastUpdated": now}})
        try:
            version = self.log.commit(header + actions)
        except FileExistsError as exc:  # another writer took the version: nothing committed
            raise LakeTableError(self.table.name, step, exc) from exc
        interval = self.current.metadata().configuration.get("delta.checkpointInterval")
        if (version + 1) % int(interval or 100) == 0:  # as delta-rs' own commits do
            self.table.delta_table().create_checkpoint()
        return version

    def _replace_file(
        self, path: str, positions: np.ndarray, vectors: bool, now: int
    ) -> list[dict[str, Any]]:
        old = self.log.files[path]
        remove = {
            "path": old["path"],
            "deletionTimestamp": now,
            "dataChange": True,
            "extendedFileMetadata": True,
            "partitionValues": old.get("partitionValues", {}),
            "size": old["size"],
            **({"deletionVector": old["deletionVector"]} if "deletionVector" in old else {}),
        }
        mask = self.live.get(path)
        if vectors:
            gone = positions if mask is None else np.union1d(np.flatnonzero(~mask), positions)
            vector = write_vector(self.directory, gone)
            return [
                {"remove": remove},
                {"add": {**old, "dataChange": True, "deletionVector": vector}},
            ]
        kept, at = self.stored(path, None)
        kept = kept.filter(pa.array(~np.isin(at, positions)))
        return [{"remove": remove}, *([{"add": self._write(kept)}] if kept.num_rows else [])]

    def _write(self, rows: pa.Table) -> dict[str, Any]:
        """One new data file of ``rows`` (the table's types, zstd); its add action."""
        name = f"zoho-{uuid.uuid4()}.parquet"
        target = self.directory / name
        rows = align_table(rows, self.schema)
        pq.write_table(
            rows, target, compression="zstd", dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT
        )
        stat = target.stat()
        return {
            "path": name,
            "partitionValues": {},
            "size": stat.st_size,
            "modificationTime": int(stat.st_mtime * 1000),
            "dataChange": True,
            "stats": file_stats(target, self.schema),
        }


def merge_locally(
    table: LakeTable, page: pa.Table, plan: DriftPlan, version: str, page_id: str
) -> PageCommit | None:
    """Merge ``page`` (one row per id) into ``table`` (see module); None when delta-rs must
    (not local, or the page adds a column)."""
    started = time.perf_counter()
    local = None if plan.add_columns else LocalTable.open(table)
    if local is None:
        return None
    source = align_table(page, local.schema)
    keep = np.ones(source.num_rows, dtype=bool)
    carried: list[Any] = [None] * source.num_rows
    replaced: dict[str, np.ndarray] = {}
    columns = [ID_COLUMN, version, DELETED_AT_COLUMN]
    for path, (stored, rows) in local.read_files(local.files_meeting(source[ID_COLUMN]), columns):
        where = pc.index_in(stored[ID_COLUMN], value_set=source[ID_COLUMN])
        hit = pc.is_valid(where).to_numpy(zero_copy_only=False)
        if not hit.any():
            continue
        stored, rows = stored.filter(pa.array(hit)), rows[hit]
        at = where.filter(pa.array(hit)).to_numpy()
        newer = _page_wins(source[version].take(pa.array(at)), stored[version])
        keep[at[~newer]] = False
        marks = stored[DELETED_AT_COLUMN].filter(pa.array(newer)).to_pylist()
        for index, mark in zip(at[newer], marks, strict=True):
            carried[index] = mark
        if newer.any():
            replaced[path] = rows[newer]
    deleted_at = pa.array(carried, local.schema.field(DELETED_AT_COLUMN).type)
    source = source.set_column(
        source.schema.get_field_index(DELETED_AT_COLUMN), DELETED_AT_COLUMN, deleted_at
    ).filter(pa.array(keep))
    change = Replacement(source, replaced)
    metadata = {**commit_metadata("merge", page.num_rows), "zoho_etl_page": page_id}
    committed = local.commit(
        change,
        vectors=table.deletion_vectors,
        metadata=metadata,
        page_id=page_id,
        step="merging the page",
    )
    return PageCommit(
        page_id,
        "merge",
        page.num_rows,
        committed,
        plan.report,
        rows_inserted=source.num_rows - change.count,
        rows_updated=change.count,
        seconds=time.perf_counter() - started,
    )


def mark_deleted_locally(
    table: LakeTable, deletions: pa.Table, batch_id: str | None, metadata: Mapping[str, str]
) -> int | None:
    """Stamp ``deletions`` (``id``, ``deleted_at``; one row per id) on the stored rows;
    how many rows were stamped, or None when delta-rs must (not a local table)."""
    local = LocalTable.open(table)
    if local is None:
        return None
    stamps = deletions["deleted_at"].cast(local.schema.field(DELETED_AT_COLUMN).type)
    parts: list[pa.Table] = []
    replaced: dict[str, np.ndarray] = {}
    meeting = local.files_meeting(deletions[ID_COLUMN])
    for path, (stored, rows) in local.read_files(meeting, local.schema.names):
        where = pc.index_in(stored[ID_COLUMN], value_set=deletions[ID_COLUMN])
        hit = pc.is_valid(where)
        if not pc.any(hit).as_py():
            continue
        stamped = stored.filter(hit)
        index = stamped.schema.get_field_index(DELETED_AT_COLUMN)
        stamped = stamped.set_column(index, DELETED_AT_COLUMN, stamps.take(where.filter(hit)))
        parts.append(stamped)
        replaced[path] = rows[hit.to_numpy(zero_copy_only=False)]
    if not replaced:
        return 0
    change = Replacement(pa.concat_tables(parts), replaced)
    page = {} if batch_id is None else {"zoho_etl_page": batch_id}
    local.commit(
        change,
        vectors=table.deletion_vectors,
        metadata={**metadata, **page},
        page_id=batch_id,
        step="marking deleted records",
    )
    return change.count


def _live_rows(current: DeltaTable, directory: Path) -> dict[str, np.ndarray]:
    """Per data file (path relative to the table) with a deletion vector: its live rows."""
    if not current.protocol().reader_features:
        return {}
    root = directory.resolve().as_uri().rstrip("/") + "/"
    vectors = pa.table(current.deletion_vectors()).to_pylist()
    return {
        row["filepath"].removeprefix(root): np.asarray(row["selection_vector"], dtype=bool)
        for row in vectors
    }


def _page_wins(page_versions: pa.Array, stored_versions: pa.ChunkedArray) -> np.ndarray:
    stored = stored_versions.combine_chunks().cast(page_versions.type)
    wins = pc.or_kleene(pc.is_null(stored), pc.greater_equal(page_versions, stored))
    return wins.fill_null(False).to_numpy(zero_copy_only=False)


__all__ = ["mark_deleted_locally", "merge_locally"]
