"""One module's export over a ``Runtime``: full, or incremental from its watermark.

``export_module_steps`` exports one module (full, or incremental from its watermark with an
overlap, by REST or bulk as ``planning.choose_method`` decides, deletions captured). It is a
driver of ``engine.steps``: each step that talks to Zoho is yielded to the caller, which runs
it (the Prefect flows as a named task). ``export_module`` runs every step through a ``Steps``
object (``DirectSteps``: in the calling thread).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from connectors.bulk_query import bulk_read_selection, bulk_unreadable_reason
from connectors.bulk_read import BulkReadQuery
from connectors.criteria import where
from connectors.products import product_for
from engine import windows
from engine.cost import choose_full, rest_break_even
from engine.errors import BudgetExceededError, FlowsError
from engine.extract_finish import (
    advance_module_watermark,
    finish_loaded,
    latest_running_id,
    progress_so_far,
    window_of,
)
from engine.ledger import ExtractRecord, ExtractState, JobRecord, JobState, to_naive_utc, utcnow
from engine.page_estimate import expected_pages
from engine.page_jobs import ReplanExtract
from engine.pages import bulk_extract_steps
from engine.partitions import plan_full_export
from engine.planning import (
    Method,
    choose_method,
    estimate_delta,
    incremental_since,
)
from engine.progress import module_finished, module_started
from engine.rest import RestDeltaTooLarge, rest_field_names, rest_page_cost
from engine.resume import interrupted_extract
from engine.steps import (
    BulkPageStep,
    DeletedStep,
    Driver,
    PartitionStep,
    RestDeltaStep,
    StepRunner,
    drive,
    run_step,
)
from engine.summary import ModuleSummary, PageOutcome
from transforms import default_table_name

if TYPE_CHECKING:
    from connectors.fields import FieldSpec
    from engine.backfill import WindowResult
    from engine.runtime import Runtime

log = logging.getLogger("engine.extracts")

ExportMode = Literal["full", "incremental"]
BULK_MAX_FIELDS = 200


@dataclass(frozen=True)
class ExportOptions:
    mode: ExportMode = "incremental"
    overlap: timedelta = timedelta(minutes=10)
    #: REST reads at most this many records before switching to bulk (None: as many as cost
    #: less than one bulk page, ``cost.rest_break_even``: CRM 11,400 with page tokens)
    rest_max_records: int | None = None
    capture_deletes: bool = True


class Steps(Protocol):
    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome: ...

    def rest(self, extract: ExtractRecord, since: datetime, max_records: int) -> PageOutcome: ...

    def deleted(self, product: str, module: str, table: str, since: datetime | None) -> int: ...


class DirectSteps:
    """Run every step in the calling thread, without Prefect (``engine.steps.run_step``)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        outcome: PageOutcome = run_step(self.rt, BulkPageStep(extract, job, allow_split))
        return outcome

    def rest(self, extract: ExtractRecord, since: datetime, max_records: int) -> PageOutcome:
        outcome: PageOutcome = run_step(self.rt, RestDeltaStep(extract, since, max_records))
        return outcome

    def deleted(self, product: str, module: str, table: str, since: datetime | None) -> int:
        return int(run_step(self.rt, DeletedStep(product, module, table, since)))


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
    running = interrupted_extract(rt, product, module, kind)  # whatever flags it had
    if running is not None:
        return running, True
    rest_supported = len(fields) <= product_for(product).rest_max_fields
    if since is None:
        created = windows.previous_created_times(rt.settings, product, module)
        choice = choose_full(
            product,
            None if created is None else len(created),
            rest_supported=rest_supported,
            rest_max_records=options.rest_max_records,
        )
        reason = choice.reason
        if options.mode != "full":
            reason = f"no watermark yet: {reason}"
        query = BulkReadQuery(module=module, fields=bulk_fields(fields)).to_state()
        plan = plan_full_export(rt, product, module, created)
        if choice.method is Method.BULK and plan is not None:
            query["partition"] = windows.plan_to_state(plan.windows)
            reason = plan.reason
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
            rest_supported=rest_supported,
            rest_max_records=options.rest_max_records or rest_break_even(product),
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
    """Export one module end to end, each step through ``steps``."""
    return drive(export_module_steps(rt, product, module, options), StepRunner(steps))


def export_module_steps(
    rt: Runtime, product: str, module: str, options: ExportOptions
) -> Driver[ModuleSummary]:
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
    if extract.method == Method.BULK.value:
        summary.fields_left_out = {
            spec.api_name: reason
            for spec in fields
            if (reason := bulk_unreadable_reason(spec)) is not None
        }
    module_started(product, module, extract.method, expected_pages(rt, extract))
    table = default_table_name(product, module)
    since_text = extract.query.get("modified_since")
    since = datetime.fromisoformat(since_text) if since_text else None
    outcomes: list[PageOutcome] = []
    if extract.method == Method.BULK.value and "partition" in extract.query:
        results: list[WindowResult] = yield PartitionStep(extract)
        finish_partition(rt, extract, results, summary)
        summary.table = table
        summary.seconds = time.monotonic() - started
        module_finished(summary)
        return summary
    if extract.method == Method.REST.value:
        rest_since = windows.EARLIEST if since is None else to_naive_utc(since)  # full: all
        cap = options.rest_max_records or rest_break_even(product)
        try:
            rest: PageOutcome = yield RestDeltaStep(extract, rest_since, cap)
            outcomes.append(rest)
        except RestDeltaTooLarge as exc:
            for job in rt.ledger.jobs_for_extract(extract.extract_id):
                if job.state is not JobState.LOADED:
                    rt.ledger.mark_expired(job.job_key, str(exc))
            rt.ledger.set_extract_method(extract.extract_id, Method.BULK.value, str(exc))
            extract = rt.ledger.get_extract(extract.extract_id)
            summary.method, summary.reason = extract.method, extract.reason
    if extract.method == Method.BULK.value:
        try:
            outcomes.extend((yield from bulk_with_replan(rt, extract)))
        except BudgetExceededError as exc:
            raise exc.with_progress(progress_so_far(rt, extract)) from None
        extract = rt.ledger.get_extract(latest_running_id(rt, extract))
    if extract.kind == "incremental" and options.capture_deletes:
        summary.deleted = yield DeletedStep(product, module, table, since)
    advance_module_watermark(rt, extract)
    finished = finish_loaded(rt, extract)
    _fill_summary(summary, rt, finished, outcomes)
    summary.table = table
    summary.seconds = time.monotonic() - started
    module_finished(summary)
    return summary


def finish_partition(
    rt: Runtime, extract: ExtractRecord, results: Sequence[WindowResult], summary: ModuleSummary
) -> None:
    """Close a partitioned export once every window is loaded; the watermark moves to the
    newest record of any window."""
    for result in results:
        for extract_id in result.extract_ids:
            advance_module_watermark(rt, rt.ledger.get_extract(extract_id))
        summary.pages += result.pages
        summary.rows_loaded += result.rows_loaded
        summary.rows_read += result.rows_loaded + result.rows_rejected
        summary.rows_rejected += result.rows_rejected
        summary.bulk_jobs_created += result.bulk_jobs_created
        summary.credits += result.credits
    rt.ledger.finish_extract(extract.extract_id, ExtractState.LOADED)


def bulk_with_replan(
    rt: Runtime, extract: ExtractRecord, *, allow_split: bool = False
) -> Driver[list[PageOutcome]]:
    """``bulk_extract_steps``, starting a fresh extract when a page token chain expired."""
    for _ in range(3):
        try:
            return (yield from bulk_extract_steps(rt, extract, allow_split=allow_split))
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
                window=window_of(extract),
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
        load = outcome.load
        if load is not None:
            if load.drift is not None and load.drift_changes:
                summary.drift.append(load.drift.to_dict())
            if load.rejects_path is not None:
                summary.rejects_paths.append(str(load.rejects_path))
