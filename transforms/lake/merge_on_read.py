"""A page merged into a lake table with deletion vectors: cost follows the page, not the table.

delta-rs' MERGE is copy-on-write: every data file holding one of the page's ids is rewritten
whole. An incremental run's changes are spread over the table (any record can be edited), so
10,000 changed ids in a 1,000,000-row table touch every file and the merge rewrites the table.
`merge_with_deletion_vectors` instead, in one commit:

1. reads the ``id``, version and ``_zoho_deleted_at`` columns of the files whose ``id`` range
   meets the page's (their rows still live: a file's existing deletion vector is honoured);
2. decides per stored id exactly as the copy-on-write merge does: the page's row replaces the
   stored one when the stored version is null or the page's is the same or newer; an older
   page row is dropped; the stored ``_zoho_deleted_at`` is carried over;
3. writes the page's surviving rows as one new data file (complete statistics,
   `transforms.lake.stats`) and, per file that held a replaced row, a deletion vector of its
   replaced rows joined with the ones it had (`transforms.lake.deletion_vectors`);
4. commits the new file, each file's remove-and-add with its new vector, the page's app
   transaction and, the first time, the protocol upgrade to deletion vectors.

The table is then readable by every reader that applies deletion vectors: delta-rs'
``DeltaTable.scan()`` and its query engine, Spark, Databricks, DuckDB's ``delta`` extension.
delta-rs' ``to_pyarrow_dataset`` and ``to_pandas`` refuse such a table (they would return
deleted rows), which is why this is a per-lake choice (``ZOHO_ETL_LAKE_DELETION_VECTORS``)
and not the default. Only local tables (delta-rs cannot write the vectors to object storage
for us) and pages that add no column take this path; the rest merge the usual way.
"""

from __future__ import annotations

import json
import time
import uuid
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
from transforms.lake.types import lake_schema
from transforms.parquet import DICTIONARY_PAGE_LIMIT
from transforms.schema import DELETED_AT_COLUMN, ID_COLUMN

if TYPE_CHECKING:
    from transforms.lake.table import LakeTable


def merge_with_deletion_vectors(
    table: LakeTable, page: pa.Table, plan: DriftPlan, version: str, page_id: str
) -> PageCommit | None:
    """Merge ``page`` (one row per id) into ``table`` with deletion vectors (see module);
    None when the table or the page needs the copy-on-write merge."""
    started = time.perf_counter()
    directory = local_directory(table.location)
    if directory is None or plan.add_columns:
        return None
    current = table.delta_table()
    log = TableLog.read(directory)
    if log.version != current.version():
        return None  # a writer committed between the two reads: let delta-rs merge
    source = align_table(page, plan.target_schema)
    if DELETED_AT_COLUMN not in source.column_names:
        return None
    keep = np.ones(source.num_rows, dtype=bool)
    carried: list[Any] = [None] * source.num_rows
    replaced: dict[str, np.ndarray] = {}
    live = _live_rows(current, directory)
    for path in _files_meeting(log, source[ID_COLUMN]):
        stored = _stored_rows(directory / path, version)
        rows = np.flatnonzero(live.get(path, np.ones(stored.num_rows, dtype=bool)))
        stored = stored.take(pa.array(rows))
        stored_ids = stored[ID_COLUMN].cast(source.schema.field(ID_COLUMN).type)
        where = pc.index_in(stored_ids, value_set=source[ID_COLUMN])
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
    deleted_at = pa.array(carried, source.schema.field(DELETED_AT_COLUMN).type)
    source = source.set_column(
        source.schema.get_field_index(DELETED_AT_COLUMN), DELETED_AT_COLUMN, deleted_at
    ).filter(pa.array(keep))
    actions = _actions(log, directory, live, source, replaced, plan.target_schema)
    properties = {**commit_metadata("merge", page.num_rows), "zoho_etl_page": page_id}
    now = int(time.time() * 1000)
    upgrade = log.protocol_with_deletion_vectors()
    header: list[dict[str, Any]] = [
        {
            "commitInfo": {
                "timestamp": now,
                "operation": "MERGE",
                "operationParameters": {"mode": "deletion vectors"},
                "readVersion": log.version,
                "isBlindAppend": False,
                **properties,
            }
        },
        *([{"protocol": upgrade}] if upgrade else []),
        {"txn": {"appId": app_id(page_id), "version": 1, "lastUpdated": now}},
    ]
    try:
        committed = log.commit(header + actions)
    except FileExistsError as exc:  # another writer took the version: nothing was committed
        raise LakeTableError(table.name, "merging the page with deletion vectors", exc) from exc
    interval = current.metadata().configuration.get("delta.checkpointInterval") or "100"
    if committed % int(interval) == 0:  # what delta-rs' own commits do after committing
        table.delta_table().create_checkpoint()
    updated = sum(len(r) for r in replaced.values())
    return PageCommit(
        page_id,
        "merge",
        page.num_rows,
        committed,
        plan.report,
        rows_inserted=source.num_rows - updated,
        rows_updated=updated,
        seconds=time.perf_counter() - started,
    )


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


def _files_meeting(log: TableLog, ids: pa.ChunkedArray) -> list[str]:
    """The live files whose ``id`` statistics meet the range of ``ids`` (or have none)."""
    low, high = pc.min(ids).as_py(), pc.max(ids).as_py()
    meeting = []
    for path, add in log.files.items():
        stats = json.loads(add.get("stats") or "{}")
        smallest = stats.get("minValues", {}).get(ID_COLUMN)
        largest = stats.get("maxValues", {}).get(ID_COLUMN)
        if smallest is None or largest is None or (smallest <= high and largest >= low):
            meeting.append(path)
    return meeting


def _stored_rows(path: Path, version: str) -> pa.Table:
    """The file's ``id``, version and deletion columns (null where the file lacks one)."""
    present = set(pq.read_schema(path).names)
    wanted = [c for c in (ID_COLUMN, version, DELETED_AT_COLUMN) if c in present]
    data = pq.read_table(path, columns=wanted)
    data = data.cast(lake_schema(data.schema))  # delta-rs writes strings as views
    for name in (version, DELETED_AT_COLUMN):
        if name not in present:
            data = data.append_column(name, pa.nulls(data.num_rows, pa.timestamp("us", "UTC")))
    return data


def _page_wins(page_versions: pa.Array, stored_versions: pa.ChunkedArray) -> np.ndarray:
    stored = stored_versions.combine_chunks().cast(page_versions.type)
    wins = pc.or_kleene(pc.is_null(stored), pc.greater_equal(page_versions, stored))
    return wins.fill_null(False).to_numpy(zero_copy_only=False)


def _actions(
    log: TableLog,
    directory: Path,
    live: dict[str, np.ndarray],
    rows: pa.Table,
    replaced: dict[str, np.ndarray],
    schema: pa.Schema,
) -> list[dict[str, Any]]:
    """The new file's add action and each replaced file's remove and add (with its vector)."""
    now = int(time.time() * 1000)
    actions: list[dict[str, Any]] = []
    for path, positions in replaced.items():
        old = log.files[path]
        mask = live.get(path)
        deleted = positions if mask is None else np.union1d(np.flatnonzero(~mask), positions)
        remove = {
            "path": old["path"],
            "deletionTimestamp": now,
            "dataChange": True,
            "extendedFileMetadata": True,
            "partitionValues": old.get("partitionValues", {}),
            "size": old["size"],
            **({"deletionVector": old["deletionVector"]} if "deletionVector" in old else {}),
        }
        add = {**old, "dataChange": True, "deletionVector": write_vector(directory, deleted)}
        actions += [{"remove": remove}, {"add": add}]
    if rows.num_rows:
        name = f"zoho-merge-{uuid.uuid4()}.parquet"
        target = directory / name
        pq.write_table(
            rows,
            target,
            compression="zstd",
            dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT,
        )
        stat = target.stat()
        new = {
            "path": name,
            "partitionValues": {},
            "size": stat.st_size,
            "modificationTime": int(stat.st_mtime * 1000),
            "dataChange": True,
            "stats": file_stats(target, schema),
        }
        actions.append({"add": new})
    return actions


__all__ = ["merge_with_deletion_vectors"]
