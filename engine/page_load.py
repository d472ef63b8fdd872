"""A bulk-read page's result: download it (hashed as it streams in) and load it into the
warehouse, the module's lake table and the ledger (a REST delta in the same zip form too)."""

from __future__ import annotations

import hashlib
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob
from engine.credit_ledger import charged_to_page
from engine.failpoints import failpoint, kill_when_file_appears
from engine.lake import commit_page as commit_to_lake
from engine.ledger import ExtractRecord, JobRecord, Watermark, to_naive_utc
from engine.summary import LoadOutcome, PageOutcome

if TYPE_CHECKING:
    from connectors.fields import FieldSpec
    from engine.runtime import Runtime
    from transforms import PageLoadResult


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_page(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    live: BulkReadJob | None,
) -> tuple[BulkReadJob, Path, str, int]:
    """Download the completed job's zip: ``(job, path, sha256, size)``."""
    assert job.job_id is not None
    client = rt.client(extract.product)
    with charged_to_page(job):
        if live is None or live.result is None:
            live = client.bulk_read.reattach(job.job_id)  # after a crash: fetch the result again
        dest = rt.settings.downloads_dir / extract.product / extract.module
        target = dest / f"{job.job_id}.zip"
        partial = target.with_name(target.name + ".part")
        kill_when_file_appears("download", extract.module, job.page, lambda: [partial, target])
        rt.downloads.acquire()
        page = client.bulk_read.download(live, dest)
    failpoint("download", extract.module, job.page)
    return live, page.zip_path, page.zip_sha256, page.zip_size


def load_downloaded_page(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    path: Path,
    fields: tuple[FieldSpec, ...],
    outcome: PageOutcome,
) -> PageOutcome:
    """Load a downloaded page (a bulk result or a REST delta in the same zip form), record
    its newest records for the watermark, and mark it loaded."""
    from transforms import LoadHooks, load_page

    assert job.job_id is not None
    settings = rt.settings
    extracted_at = (job.completed_at or job.planned_at).replace(tzinfo=UTC)
    # The "load" crash point fires inside the merge transaction: a kill there is a kill
    # in the middle of the warehouse load.
    hooks = LoadHooks(inside_merge=lambda: failpoint("load", extract.module, job.page))
    with rt.load_lock:
        result: PageLoadResult = load_page(
            path,
            fields,
            product=extract.product,
            module=extract.module,
            job_id=job.job_id,
            extracted_at=extracted_at,
            parquet_root=settings.parquet_root,
            warehouse=rt.warehouse,
            drift_policy=settings.drift_policy,
            rejects_root=settings.rejects_root,
            hooks=hooks,
        )
        # into the lake before the ledger says loaded: a re-run then completes it (engine.lake)
        _, kept = commit_to_lake(rt, extract, job, result.parquet_files)
    newest = None
    if result.newest_modified is not None:
        newest = Watermark(to_naive_utc(result.newest_modified), result.newest_ids)
    rt.ledger.record_page_newest(job.job_key, newest)
    outcome.job = rt.ledger.mark_loaded(
        job.job_key,
        rows_read=result.rows_read,
        rows_loaded=result.rows_loaded,
        rows_rejected=result.rows_rejected,
    )
    outcome.load = LoadOutcome.from_result(result)
    outcome.parquet_files = [str(p) for p in kept]
    return outcome
