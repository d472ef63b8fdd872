"""A first load's page committed by reference: its Parquet files become the table's data files.

The pages of a first (full) load are written once already, as the load's landing Parquet
(`transforms.parquet`), in the lake's types. Encoding them a second time through delta-rs
would double the page's Parquet cost, so `adopt_page_files` links (or, across file systems,
copies) those files into the table's directory and commits them with one Delta *add* action
each, when all of this holds:

- the table is on the local file system (any other URI goes through delta-rs' writer);
- every column's type is the table's (no column added, widened or cast: drift goes through
  the writer, which rewrites what it must);
- the page's ids are new: none repeats inside the page and none is stored (the same check
  as `LakeTable.append_page`; one read of the ``id`` column).

Otherwise it returns None and the caller writes the page the normal way. The commit carries
the page's app transaction, as every page commit does, so a committed page is never adopted
twice; files linked by an attempt that died before its commit are referenced by no version
(`LakeTable.vacuum` removes them) and a later attempt replaces them. Each add action carries
complete statistics (`transforms.lake.stats`): readers filter on them, and a later merge
skips the files whose ``id`` range its page does not touch.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from transforms.drift import plan_drift
from transforms.errors import LakeTableError
from transforms.identifiers import validate_path_token
from transforms.lake.page import PageCommit, app_id, commit_metadata, commit_properties
from transforms.lake.stats import file_stats
from transforms.lake.types import from_delta_schema, lake_schema
from transforms.schema import ID_COLUMN

if TYPE_CHECKING:
    from transforms.lake.table import LakeTable


def local_directory(location: str) -> Path | None:
    """The directory of a table on the local file system (a path or ``file://``), else None."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # s3://, az://, gs://... (not C:\)
        return None
    return Path(location)


def adopt_page_files(
    table: LakeTable,
    files: Sequence[Path],
    page_id: str,
    *,
    before_commit: Callable[[], None] | None = None,
) -> PageCommit | None:
    """Commit a first load's page by adding its Parquet ``files`` to ``table`` (see module);
    None when the page has to be written instead. ``before_commit`` runs after the files are
    in the table's directory and before the commit."""
    started = time.perf_counter()
    validate_path_token(page_id, "page id")
    directory = local_directory(table.location)
    if directory is None or not files:
        return None
    current = table.delta_table() if table.exists else None  # opened once: see has_stored_ids
    if current is not None and current.transaction_version(app_id(page_id)) is not None:
        return PageCommit(page_id, "skipped", 0, current.version(), seconds=0.0)
    page_schema = pq.read_schema(files[0]).remove_metadata()
    if not lake_schema(page_schema).equals(page_schema) or ID_COLUMN not in page_schema.names:
        return None
    existing = (
        None if current is None else from_delta_schema(pa.schema(current.schema().to_arrow()))
    )
    plan = plan_drift(table.name, page_schema, existing, table.drift_policy)
    same_types = all(plan.target_schema.field(f.name).type.equals(f.type) for f in page_schema)
    if plan.add_columns or plan.widen_columns or not same_types:
        return None
    ids = pq.read_table(list(files), columns=[ID_COLUMN])[ID_COLUMN]
    if ids.null_count or pc.count_distinct(ids).as_py() != len(ids):
        return None
    if current is not None and table.has_stored_ids(ids, current):
        return None
    directory.mkdir(parents=True, exist_ok=True)
    schema = plan.target_schema
    adds = [_add_action(path, directory, page_id, n, schema) for n, path in enumerate(files)]
    if before_commit is not None:
        before_commit()
    properties = commit_properties(page_id, commit_metadata("append", len(ids)))
    try:
        if current is None:
            create_table_with_add_actions(
                table.location,
                DeltaSchema.from_arrow(plan.target_schema),
                adds,
                mode="append",
                configuration=table.configuration(),
                storage_options=table.storage_options or None,
                commit_properties=properties,
            )
            version = 0
        else:
            actions: list[AddAction | RemoveAction] = [*adds]
            current.create_write_transaction(
                actions, mode="append", schema=plan.target_schema, commit_properties=properties
            )
            current.update_incremental()
            version = current.version()
    except DeltaError as exc:
        raise LakeTableError(table.name, "adding the page's files", exc) from exc
    seconds = time.perf_counter() - started
    return PageCommit(page_id, "append", len(ids), version, plan.report, len(ids), 0, seconds)


def _add_action(
    source: Path, directory: Path, page_id: str, n: int, schema: pa.Schema
) -> AddAction:
    """Put ``source`` into the table's directory (a hard link, or a copy across file
    systems) under a name of the page's, replacing what an uncommitted attempt left."""
    name = f"zoho-{page_id}-{n:04d}.parquet"
    target = directory / name
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    stat = target.stat()
    return AddAction(
        name,
        stat.st_size,
        {},
        int(stat.st_mtime * 1000),
        True,
        file_stats(target, schema),
    )


__all__ = ["adopt_page_files", "local_directory"]
