"""The export engine's side of the lake: each page and each deletion batch into the module's
Delta table (`transforms.lake.LakeTable`), in the order the warehouse loads them. A Creator
report's table is ``{lake}/creator/creator_{app}_{report}`` (named like its warehouse table);
its pages and retention deletes go through the same functions.

A page reaches the lake from its landing Parquet (`transforms.parquet`, written by the
load), inside the load lock, **before** the ledger marks the page loaded:

- pages of a full export that started the table are appended (their ids are new): on a
  local table their landing files become the table's data files (`transforms.lake.adopt`;
  linked, not written again), elsewhere delta-rs writes them;
- every other page (a later full export, an incremental run, a REST delta, a backfill
  window) is merged on ``id``, newest ``Modified_Time`` winning;
- the page's bulk job id is the commit's idempotence key (a Delta app transaction): a run
  killed after the lake commit but before the ledger's mark loads the page into the
  warehouse again (idempotent) and skips the lake commit; a run killed before or inside
  the commit leaves the table at its last version and the re-run commits the page;
- the landing files are deleted once the page is in the lake, unless
  ``RunSettings.keep_landing_days`` is set: then they stay, and days older than that are
  pruned.

Deletions go to the lake right after the warehouse (`mark_deleted`), keyed by their content,
so a repeated capture of the same deletions commits nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from engine.failpoints import failpoint
from engine.ledger import ExtractRecord, JobRecord, utcnow
from transforms.lake import LakeTable, PageCommit
from transforms.lake.adopt import adopt_page_files
from transforms.lake.page import app_id
from transforms.lake.reading import column_names, read_arrow
from transforms.parquet import prune_landing, remove_landing
from transforms.pipeline import NewestRecords
from transforms.schema import ID_COLUMN, JOB_ID_COLUMN, VERSION_COLUMN

if TYPE_CHECKING:
    from engine.runtime import Runtime
    from engine.settings import RunSettings

log = logging.getLogger("engine.lake")


def open_lake_table(settings: RunSettings, product: str, module: str) -> LakeTable:
    """The module's table under the configured lake root (created by its first page)."""
    return LakeTable.open(
        settings.lake_root,
        product,
        module,
        drift_policy=settings.drift_policy,
        storage_options=settings.lake_options(),
        deletion_vectors=settings.lake_deletion_vectors,
    )


def commit_page(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    landing: Sequence[Path],
    *,
    table: str | None = None,
) -> tuple[PageCommit, list[Path]]:
    """Commit one loaded page to the lake; returns the commit and the landing files kept.

    ``table``: the lake table (and landing folder) when it is not named after the ledger's
    module (a Creator report's ``creator_{app}_{report}``). Call it with ``rt.load_lock``
    held, after the warehouse load and before the ledger's ``mark_loaded``.
    """
    assert job.job_id is not None
    settings = rt.settings
    name = table or extract.module
    lake = open_lake_table(settings, extract.product, name)
    files = sorted(Path(p) for p in landing)
    schema = pq.read_schema(files[0]) if files else None
    if schema is None:
        commit = PageCommit(job.job_id, "skipped", 0, lake.version or 0)
    else:
        data = _landing_batches(files, extract.module, job.page)
        if _first_load(rt, lake, extract, job):
            lake_write = partial(failpoint, "lake-write", extract.module, job.page)
            adopted = adopt_page_files(lake, files, job.job_id, before_commit=lake_write)
            commit = adopted or lake.append_page(data, job.job_id, schema)
        else:
            commit = lake.merge_page(data, job.job_id, schema)
    failpoint("lake-committed", extract.module, job.page)
    log.info(
        "lake %s page %d (job %s): %s, %d rows, version %s",
        lake.name,
        job.page,
        job.job_id,
        commit.mode,
        commit.rows,
        commit.version,
    )
    if settings.keep_landing_days is None:
        remove_landing(files)
        return commit, []
    cutoff = utcnow() - timedelta(days=settings.keep_landing_days)
    prune_landing(settings.parquet_root, extract.product, name, cutoff)
    return commit, [f for f in files if f.exists()]


def _landing_batches(files: Sequence[Path], module: str, page: int) -> Iterator[pa.RecordBatch]:
    """The page's batches, read file by file; the ``lake-write`` failpoint fires after the
    last one, while delta-rs has the page's data but has not committed it."""
    for path in files:
        yield from pq.ParquetFile(path).iter_batches()
    failpoint("lake-write", module, page)


def _first_load(rt: Runtime, table: LakeTable, extract: ExtractRecord, job: JobRecord) -> bool:
    """Whether ``job`` belongs to the full export that started the table (ids are new).

    True for page 1 of a full export into a table that does not exist yet, and for later
    pages of that export: the table's version 0 holds its page 1.
    """
    if extract.kind != "full":
        return False
    if not table.exists:
        return True
    if job.page == 1:
        return False
    first = [
        j.job_id
        for j in rt.ledger.jobs_for_extract(extract.extract_id)
        if j.page == 1 and j.job_id is not None
    ]
    try:
        origin = DeltaTable(table.location, version=0, storage_options=table.storage_options)
    except (DeltaError, OSError):  # version 0's log is gone: an old table, merge
        return False
    return any(origin.transaction_version(app_id(job_id)) is not None for job_id in first)


def mark_deleted(
    settings: RunSettings, product: str, module: str, entries: Sequence[tuple[str, datetime]]
) -> int:
    """Stamp ``_zoho_deleted_at`` in the lake as the warehouse did; returns rows stamped."""
    if not entries:
        return 0
    digest = hashlib.sha256()
    for record_id, when in sorted(entries):
        digest.update(f"{record_id}\t{when.isoformat()}\n".encode())
    batch_id = f"deleted-{digest.hexdigest()[:32]}"
    return open_lake_table(settings, product, module).mark_deleted(entries, batch_id)


def newest_in_page(
    settings: RunSettings, product: str, module: str, job_id: str
) -> list[tuple[str, datetime]]:
    """``(id, Modified_Time)`` of the rows the page ``job_id`` left in the lake with the
    newest ``Modified_Time``: the watermark of a page whose landing files are gone."""
    table = open_lake_table(settings, product, module)
    if not table.exists:
        return []
    delta = table.delta_table()
    if VERSION_COLUMN not in column_names(delta):
        return []
    rows = read_arrow(delta, [ID_COLUMN, VERSION_COLUMN, JOB_ID_COLUMN])
    rows = rows.filter(pc.equal(rows[JOB_ID_COLUMN], job_id))
    newest = NewestRecords()
    for batch in rows.to_batches():
        newest.see(batch)
    return newest.pairs()
