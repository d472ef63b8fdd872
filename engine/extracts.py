"""The work of the export and backfill flows, as plain functions over a ``Runtime``.

``export_module`` exports one module (full, or incremental from its watermark with an overlap,
by REST or bulk as ``planning.choose_method`` decides, deletions captured); ``backfill_window``
loads one date window, splitting it when one page cannot hold it. Each step that talks to Zoho
goes through a ``Steps`` object: ``DirectSteps`` calls the functions, the Prefect flows supply
steps that run them as named tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from connectors.bulk_query import bulk_read_selection
from connectors.bulk_read import BulkReadQuery
from connectors.criteria import where
from connectors.products import product_for
from engine.errors import BudgetExceededError, FlowsError, PageNotLoadedError
from engine.lake import newest_in_page
from engine.ledger import ExtractRecord, ExtractState, JobRecord, JobState, to_naive_utc, utcnow
from engine.pages import PageOutcome, ReplanExtract, run_bulk_extract, run_bulk_page, sha256_of
from engine.planning import (
    Method,
    Window,
    advance_watermark,
    choose_method,
    estimate_delta,
    incremental_since,
    split_window,
)
from engine.rest import (
    RestDeltaTooLarge,
    fetch_rest_delta,
    records_to_zip,
    rest_field_names,
    rest_page_cost,
)
from engine.summary import ModuleSummary

if TYPE_CHECKING:
    from connectors.fields import FieldSpec
    from engine.runtime import Runtime

log = logging.getLogger("engine.extracts")

ExportMode = Literal["full", "incremental"]
BULK_MAX_FIELDS = 200


@dataclass(frozen=True)
class ExportOptions:
    mode: ExportMode = "incremental"
    overlap: timedelta = timedelta(minutes=10)
    rest_max_records: int = 2_000
    capture_deletes: bool = True


class Steps(Protocol):
    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome: ...

    def rest(self, extract: ExtractRecord, since: datetime, max_records: int) -> PageOutcome: ...

    def deleted(self, product: str, module: str, table: str, since: datetime | None) -> int: ...


class DirectSteps:
    """Run every step in the calling thread, without Prefect."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        fields = self.rt.fields(extract.product, extract.module)
        return run_bulk_page(self.rt, extract, job.job_key, fields, allow_split=allow_split)

    def rest(self, extract: ExtractRecord, since: datetime, max_records: int) -> PageOutcome:
        return run_rest_page(self.rt, extract, since, max_records)

    def deleted(self, product: str, module: str, table: str, since: datetime | None) -> int:
        from engine.rest import capture_deleted

        return capture_deleted(self.rt, product, module, table, since)


def table_name(product: str, module: str) -> str:
    """The warehouse table of a module (the loader's default)."""
    return f"{product}_{module}"


def bulk_fields(fields: Sequence[FieldSpec]) -> tuple[str, ...]:
    """Field names a bulk read asks for: every field, in metadata order (an explicit list keeps
    the columns the same on every page and equal to the REST path's). Past Zoho's 200-field
    limit, an empty list (= all fields) is sent instead. Fields bulk read cannot export
    (external fields) are left out, with one INFO line naming them."""
    names = tuple(rest_field_names(bulk_read_selection(fields).fields))
    return names if len(names) <= BULK_MAX_FIELDS else ()


def iso_utc(value: datetime) -> str:
    """Zoho criteria form: ISO 8601 with offset, no milliseconds."""
    return to_naive_utc(value).replace(tzinfo=UTC, microsecond=0).isoformat()


# ---- export -------------------------------------------------------------------------------


def open_module_extract(
    rt: Runtime,
    product: str,
    module: str,
    options: ExportOptions,
    fields: Sequence[FieldSpec],
) -> tuple[ExtractRecord, bool]:
    """The module's running extract (resumed) or a newly planned one."""
    ledger = rt.ledger
    since: datetime | None = None
    kind = "full"
    if options.mode == "incremental":
        since = incremental_since(ledger.get_watermark(rt.org, product, module), options.overlap)
        kind = "incremental" if since is not None else "full"
    running = ledger.find_extract(
        org=rt.org, product=product, module=module, kind=kind, state=ExtractState.RUNNING
    )
    if running is not None:
        return running, True
    if since is None:
        choice = choose_method(full=True, estimated_records=None)
        reason = choice.reason if options.mode == "full" else "no watermark yet: full bulk export"
        query = BulkReadQuery(module=module, fields=bulk_fields(fields)).to_state()
    else:
        previous = ledger.find_extract(
            org=rt.org,
            product=product,
            module=module,
            kind="incremental",
            state=ExtractState.LOADED,
        )
        estimate = None
        if previous is not None and previous.query.get("modified_since"):
            prev_since = datetime.fromisoformat(previous.query["modified_since"])
            estimate = estimate_delta(
                previous_rows=previous.rows_loaded,
                previous_span=to_naive_utc(previous.started_at) - to_naive_utc(prev_since),
                since=since,
                now=utcnow(),
            )
        choice = choose_method(
            full=False,
            estimated_records=estimate,
            rest_supported=len(fields) <= product_for(product).rest_max_fields,
            rest_max_records=options.rest_max_records,
            rest_page_cost=rest_page_cost(product),
        )
        reason = choice.reason
        criteria = where("Modified_Time").greater_equal(iso_utc(since))
        query = BulkReadQuery(
            module=module, fields=bulk_fields(fields), criteria=criteria
        ).to_state()
        query["modified_since"] = iso_utc(since)
    extract, resumed = ledger.open_extract(
        org=rt.org,
        product=product,
        module=module,
        kind=kind,
        query=query,
        method=choice.method.value,
        reason=reason,
    )
    return extract, resumed


def export_module(
    rt: Runtime, product: str, module: str, options: ExportOptions, steps: Steps
) -> ModuleSummary:
    """Export one module end to end; the ledger makes it resumable at every step."""
    started = time.monotonic()
    rt.forget_fields(product, module)  # a new run sees fields Zoho added or changed since
    fields = rt.fields(product, module)
    extract, resumed = open_module_extract(rt, product, module, options, fields)
    summary = ModuleSummary(
        product,
        module,
        kind=extract.kind,
        method=extract.method,
        reason=extract.reason + (" (resumed)" if resumed else ""),
    )
    table = table_name(product, module)
    since_text = extract.query.get("modified_since")
    since = datetime.fromisoformat(since_text) if since_text else None
    outcomes: list[PageOutcome] = []
    if extract.method == Method.REST.value:
        assert since is not None
        try:
            outcomes.append(steps.rest(extract, to_naive_utc(since), options.rest_max_records))
        except RestDeltaTooLarge as exc:
            for job in rt.ledger.jobs_for_extract(extract.extract_id):
                if job.state is not JobState.LOADED:
                    rt.ledger.mark_expired(job.job_key, str(exc))
            rt.ledger.set_extract_method(extract.extract_id, Method.BULK.value, str(exc))
            extract = rt.ledger.get_extract(extract.extract_id)
            summary.method, summary.reason = extract.method, extract.reason
    if extract.method == Method.BULK.value:
        try:
            outcomes.extend(_bulk_with_replan(rt, extract, steps))
        except BudgetExceededError as exc:
            raise exc.with_progress(_progress_so_far(rt, extract)) from None
        extract = rt.ledger.get_extract(_latest_running_id(rt, extract))
    if extract.kind == "incremental" and options.capture_deletes:
        summary.deleted = steps.deleted(product, module, table, since)
    _advance_watermark(rt, extract)
    finished = finish_loaded(rt, extract)
    _fill_summary(summary, rt, finished, outcomes)
    summary.table = table
    summary.seconds = time.monotonic() - started
    return summary


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


def _progress_so_far(rt: Runtime, extract: ExtractRecord) -> str:
    """One phrase for a run stopped half-way: what is loaded and what a re-run resumes."""
    latest = rt.ledger.get_extract(_latest_running_id(rt, extract))
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


def _latest_running_id(rt: Runtime, extract: ExtractRecord) -> str:
    running = rt.ledger.find_extract(
        org=extract.org,
        product=extract.product,
        module=extract.module,
        kind=extract.kind,
        window=_window_of(extract),
        state=ExtractState.RUNNING,
    )
    return running.extract_id if running is not None else extract.extract_id


def _window_of(extract: ExtractRecord) -> tuple[datetime, datetime] | None:
    if extract.window_start is None or extract.window_end is None:
        return None
    return extract.window_start, extract.window_end


def _bulk_with_replan(
    rt: Runtime, extract: ExtractRecord, steps: Steps, *, allow_split: bool = False
) -> list[PageOutcome]:
    """``run_bulk_extract``, starting a fresh extract when a page token chain expired."""
    for _ in range(3):
        try:
            return run_bulk_extract(rt, extract, steps.page, allow_split=allow_split)
        except ReplanExtract as exc:
            log.warning("%s", exc)
            rt.ledger.finish_extract(extract.extract_id, ExtractState.FAILED)
            extract, _ = rt.ledger.open_extract(
                org=extract.org,
                product=extract.product,
                module=extract.module,
                kind=extract.kind,
                query=extract.query,
                method=extract.method,
                reason=f"{extract.reason}; re-planned: {exc.reason}",
                window=_window_of(extract),
                parent_id=extract.parent_id,
            )
    raise FlowsError(f"{extract.module}: page tokens keep expiring; run the export again")


def _fill_summary(
    summary: ModuleSummary, rt: Runtime, extract: ExtractRecord, outcomes: Sequence[PageOutcome]
) -> None:
    jobs = [j for j in rt.ledger.jobs_for_extract(extract.extract_id) if j.state is JobState.LOADED]
    summary.pages = len(jobs)
    summary.rows_read += sum(j.rows_read or 0 for j in jobs)
    summary.rows_loaded += sum(j.rows_loaded or 0 for j in jobs)
    summary.rows_rejected += sum(j.rows_rejected or 0 for j in jobs)
    summary.bulk_jobs_created += sum(o.jobs_created for o in outcomes)
    summary.credits += sum(o.credits for o in outcomes)
    for outcome in outcomes:
        summary.parquet_files.extend(outcome.parquet_files)
        if outcome.load:
            drift = outcome.load.get("drift")
            if isinstance(drift, dict) and drift.get("changes"):
                summary.drift.append(drift)
            rejects = outcome.load.get("rejects_path")
            if rejects:
                summary.rejects_paths.append(str(rejects))


def _advance_watermark(rt: Runtime, extract: ExtractRecord) -> None:
    """Move the module's watermark to the newest ``Modified_Time`` this extract loaded."""
    current = rt.ledger.get_watermark(extract.org, extract.product, extract.module)
    pairs: list[tuple[str, datetime]] = []
    for job in rt.ledger.jobs_for_extract(extract.extract_id):
        if job.state is not JobState.LOADED or job.job_id is None:
            continue
        pairs.extend(_newest_in_page(rt, extract, job.job_id))
    newest = advance_watermark(current, pairs)
    if newest is not None and newest != current:
        rt.ledger.set_watermark(
            extract.org, extract.product, extract.module, newest, extract.extract_id
        )


def _newest_in_page(rt: Runtime, extract: ExtractRecord, job_id: str) -> list[tuple[str, datetime]]:
    return newest_in_page(rt.settings, extract.product, extract.module, job_id)


# ---- REST ---------------------------------------------------------------------------------


def run_rest_page(
    rt: Runtime, extract: ExtractRecord, since: datetime, max_records: int
) -> PageOutcome:
    """A REST delta as one ledger 'page': fetched, written as a bulk-style zip, loaded."""
    from engine.pages import _load

    ledger = rt.ledger
    fields = rt.fields(extract.product, extract.module)
    job = ledger.plan_page(extract, 1, query=extract.query)
    outcome = PageOutcome(job=job)
    if job.state is JobState.LOADED:
        return outcome
    if job.state is JobState.DOWNLOADED and job.file_path and Path(job.file_path).exists():
        if sha256_of(Path(job.file_path)) == job.sha256:
            outcome.reused_download = True
            return _load(rt, extract, job, Path(job.file_path), fields, outcome)
        job = ledger.mark_download_invalid(job.job_key, "file missing or checksum differs")
    job_id = f"rest-{extract.extract_id[:16]}"
    records, spent = fetch_rest_delta(rt, extract, fields, since, max_records=max_records)
    ledger.add_job_credits(job.job_key, spent)
    outcome.credits += spent
    path = rt.settings.downloads_dir / extract.product / extract.module / f"{job_id}.zip"
    count = records_to_zip(records, fields, path)
    if job.state is JobState.PLANNED:
        job = ledger.mark_created(job.job_key, job_id, credits=0)
    if job.state is JobState.CREATED:
        job = ledger.mark_completed(
            job.job_key,
            record_count=count,
            per_page=None,
            more_records=False,
            next_page_token=None,
        )
    job = ledger.mark_downloaded(
        job.job_key, path=str(path), sha256=sha256_of(path), size=path.stat().st_size
    )
    return _load(rt, extract, job, path, fields, outcome)


# ---- backfill -----------------------------------------------------------------------------


@dataclass
class WindowResult:
    window: Window
    skipped: bool = False
    split_into: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    credits: int = 0
    bulk_jobs_created: int = 0


def window_query(module: str, window: Window, fields: Sequence[FieldSpec]) -> dict[str, object]:
    criteria = where("Modified_Time").greater_equal(iso_utc(window.start)) & where(
        "Modified_Time"
    ).less_than(iso_utc(window.end))
    return BulkReadQuery(module=module, fields=bulk_fields(fields), criteria=criteria).to_state()


def backfill_window(
    rt: Runtime,
    product: str,
    module: str,
    window: Window,
    steps: Steps,
    *,
    parent_id: str | None = None,
) -> WindowResult:
    """Load one window; finished windows are no-ops; overflowing windows split in two."""
    ledger = rt.ledger
    bounds = (window.start, window.end)
    result = WindowResult(window)
    find = partial(ledger.find_extract, org=rt.org, product=product, module=module, kind="backfill")
    if find(window=bounds, state=ExtractState.LOADED) is not None:
        result.skipped = True
        return result
    split = find(window=bounds, state=ExtractState.SPLIT)
    if split is None:
        extract, _ = ledger.open_extract(
            org=rt.org,
            product=product,
            module=module,
            kind="backfill",
            query=window_query(module, window, rt.fields(product, module)),
            method=Method.BULK.value,
            reason=f"backfill window {window.label()}",
            window=bounds,
            parent_id=parent_id,
        )
        try:
            outcomes = _bulk_with_replan(rt, extract, steps, allow_split=True)
        except BudgetExceededError as exc:
            raise exc.with_progress(_progress_so_far(rt, extract)) from None
        extract = ledger.get_extract(_latest_running_id(rt, extract))
        result.credits += sum(o.credits for o in outcomes)
        result.bulk_jobs_created += sum(o.jobs_created for o in outcomes)
        if not (outcomes and outcomes[0].split):
            finished = finish_loaded(rt, extract)
            jobs = ledger.jobs_for_extract(finished.extract_id)
            result.rows_loaded = sum(j.rows_loaded or 0 for j in jobs)
            result.rows_rejected = sum(j.rows_rejected or 0 for j in jobs)
            _advance_watermark_if_newer(rt, finished)
            return result
        split = ledger.finish_extract(extract.extract_id, ExtractState.SPLIT)
    halves = split_window(window)
    if halves is None:
        raise FlowsError(
            f"backfill {product} {module} window {window.label()} holds more records than one "
            "bulk page and is too short to split"
        )
    result.split_into = 2
    for half in halves:
        sub = backfill_window(rt, product, module, half, steps, parent_id=split.extract_id)
        result.rows_loaded += sub.rows_loaded
        result.rows_rejected += sub.rows_rejected
        result.credits += sub.credits
        result.bulk_jobs_created += sub.bulk_jobs_created
    return result


def _advance_watermark_if_newer(rt: Runtime, extract: ExtractRecord) -> None:
    """A backfill only moves the watermark when one exists (it never starts incrementals)."""
    if rt.ledger.get_watermark(extract.org, extract.product, extract.module) is not None:
        _advance_watermark(rt, extract)
