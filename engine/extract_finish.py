"""Closing an extract: loaded only when every page's rows are in, the module's watermark moved
to the newest records its pages loaded, and, for a run stopped half-way, what is loaded so far
and where a re-run resumes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from engine.errors import PageNotLoadedError
from engine.lake import newest_in_page
from engine.ledger import ExtractRecord, ExtractState, JobState
from engine.planning import Window, advance_watermark
from transforms.pipeline import NewestRecords
from transforms.schema import ID_COLUMN, VERSION_COLUMN

if TYPE_CHECKING:
    from engine.runtime import Runtime


def finish_loaded(rt: Runtime, extract: ExtractRecord) -> ExtractRecord:
    """Close ``extract`` as loaded, only when every one of its pages' rows is in."""
    jobs = rt.ledger.jobs_for_extract(extract.extract_id)
    reason = None
    if not jobs:
        reason = "no page has been read"
    elif pending := [j for j in jobs if j.state is not JobState.LOADED]:
        reason = ", ".join(f"page {j.page} is {j.state.value}" for j in pending)
    elif jobs[-1].more_records:
        reason = f"page {jobs[-1].page} says more records follow"
    if reason is not None:
        raise PageNotLoadedError(extract.extract_id, extract.module, reason)
    return rt.ledger.finish_extract(extract.extract_id, ExtractState.LOADED)


def progress_so_far(rt: Runtime, extract: ExtractRecord) -> str:
    """One phrase for a run stopped half-way: what is loaded and what a re-run resumes."""
    latest = rt.ledger.get_extract(latest_running_id(rt, extract))
    loaded = [
        j for j in rt.ledger.jobs_for_extract(latest.extract_id) if j.state is JobState.LOADED
    ]
    what = latest.module
    if latest.window_start is not None and latest.window_end is not None:
        what += f" window {Window(latest.window_start, latest.window_end).label()}"
    rows = sum(j.rows_loaded or 0 for j in loaded)
    resume_at = max((j.page for j in loaded), default=0) + 1
    return (
        f"loaded so far: {rows} rows of {what} in {len(loaded)} page(s); "
        f"left to resume: page {resume_at} onward"
    )


def latest_running_id(rt: Runtime, extract: ExtractRecord) -> str:
    running = rt.ledger.find_extract(
        org=extract.org,
        product=extract.product,
        module=extract.module,
        kind=extract.kind,
        window=window_of(extract),
        state=ExtractState.RUNNING,
    )
    return running.extract_id if running is not None else extract.extract_id


def window_of(extract: ExtractRecord) -> tuple[datetime, datetime] | None:
    if extract.window_start is None or extract.window_end is None:
        return None
    return extract.window_start, extract.window_end


def advance_module_watermark(rt: Runtime, extract: ExtractRecord) -> None:
    """Move the module's watermark to the newest ``Modified_Time`` this extract loaded (each
    page's load recorded its newest records in the ledger)."""
    current = rt.ledger.get_watermark(extract.org, extract.product, extract.module)
    pairs: list[tuple[str, datetime]] = []
    for job in rt.ledger.jobs_for_extract(extract.extract_id):
        if job.state is not JobState.LOADED or job.job_id is None:
            continue
        recorded, newest = rt.ledger.page_newest(job.job_key)
        if not recorded:  # loaded by a version that did not record it: read the page back
            pairs.extend(_newest_in_page(rt, extract, job.job_id))
        elif newest is not None:
            pairs.extend((record_id, newest.modified_time) for record_id in newest.ids)
    newest_seen = advance_watermark(current, pairs)
    if newest_seen is not None and newest_seen != current:
        rt.ledger.set_watermark(
            extract.org, extract.product, extract.module, newest_seen, extract.extract_id
        )


def _newest_in_page(rt: Runtime, extract: ExtractRecord, job_id: str) -> list[tuple[str, datetime]]:
    """The newest records of a page read back from its Parquet (pages loaded before the
    ledger recorded them)."""
    root = rt.settings.parquet_root / extract.product / extract.module
    files = sorted(root.glob(f"*/run={job_id}/*.parquet"))
    if not files:  # landing files removed once in the lake: read the lake instead
        return newest_in_page(rt.settings, extract.product, extract.module, job_id)
    newest = NewestRecords()
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(columns=[ID_COLUMN, VERSION_COLUMN]):
            newest.see(batch)
    return newest.pairs()
