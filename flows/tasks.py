"""Prefect tasks: thin wrappers that run one step of ``engine.extracts`` / ``engine.pages``.

Every task that calls Zoho uses ``cache_policy=NO_CACHE`` (a cached result would skip a
call that must happen). Retries happen in one layer per kind of failure: each HTTP request
retries 429s, 5xx answers and dropped connections itself (``connectors.retry``, up to six
attempts), so a task that still failed with one of those is not retried again (that would
be up to 3 x 6 attempts of a failing call); Prefect retries a Zoho task only when the whole
step can succeed on a second try and nothing below retried it: a bulk job that outlived its
poll timeout (``JobTimeoutError``: the retry re-attaches to the same job). Fatal errors fail
at once with their message. Steps are idempotent thanks to the ledger, so a retry continues
where the failed attempt stopped.

Tasks take the picklable ``ZohoConnection`` / ``RunSettings`` and ids, and look up this
process's ``Runtime``; that keeps them runnable on a Dask worker as well as in a thread.
Task runs are named after what they do (``bulk-read Leads page 3``) with ``task_run_name``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.errors import (
    ConnectionDroppedError,
    CorruptZipError,
    RateLimitedError,
    ServerError,
)
from engine.extracts import (
    DirectSteps,
    ExportOptions,
    WindowResult,
    backfill_window,
    export_module,
    run_rest_page,
)
from engine.ledger import ExtractRecord, JobRecord
from engine.pages import PageOutcome, run_bulk_page
from engine.planning import Window
from engine.rest import capture_deleted
from engine.runtime import Runtime, runtime_for
from engine.settings import RunSettings, ZohoConnection
from engine.summary import ModuleSummary
from flows.artifacts import Progress
from recovery import is_transient

log = logging.getLogger("flows.tasks")

#: Transient errors that every HTTP request (or download) already retried with backoff.
RETRIED_PER_REQUEST: tuple[type[Exception], ...] = (
    RateLimitedError,
    ServerError,
    ConnectionDroppedError,
    CorruptZipError,
)


def whole_task_retriable(error: BaseException) -> bool:
    """Whether a failed task can succeed on a retry that nothing below already made.

    The recovery vocabulary decides (``recovery.is_transient``): a transient error the HTTP
    layer did not already retry (a job that timed out, a warehouse outage) is retried here.
    """
    return is_transient(error) and not isinstance(error, RETRIED_PER_REQUEST)


def only_retriable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: see `whole_task_retriable`."""
    try:
        state.result()
    except Exception as exc:
        return whole_task_retriable(exc)
    return False


ZOHO_CALL = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 10,
    "retry_condition_fn": only_retriable,
}


def credits_left(rt: Runtime, product: str) -> str:
    """The org's credits left today: the budget's view, and Zoho's when it sent one."""
    available = rt.budget.available()
    parts = [f"{available} of the daily budget" if available is not None else "no budget set"]
    server = rt.client(product).meter.report().server_remaining
    if server is not None:
        parts.append(f"{server} by Zoho's count")
    return ", ".join(parts)


@task(name="bulk-read page", **ZOHO_CALL)  # type: ignore[call-overload]
def bulk_page_task(
    connection: ZohoConnection,
    settings: RunSettings,
    extract_id: str,
    job_key: str,
    allow_split: bool,
    progress: Progress | None = None,
) -> PageOutcome:
    rt = runtime_for(connection, settings)
    extract = rt.ledger.get_extract(extract_id)
    fields = rt.fields(extract.product, extract.module)
    seen: dict[str, str] = {}

    def on_poll(job: JobRecord, state: str, polls: int) -> None:
        if seen.get(job.job_key) != state:
            seen[job.job_key] = state
            log.info(
                "%s page %d: bulk job %s (%d credits so far) is %s (poll %d)",
                extract.module,
                job.page,
                job.job_id,
                job.credits,
                state,
                polls,
            )
        if progress is not None:
            done = max(job.page - 1, 0)
            progress.update(done / job.page, f"page {job.page}: job {state} (poll {polls})")

    outcome = run_bulk_page(rt, extract, job_key, fields, allow_split=allow_split, on_poll=on_poll)
    job = outcome.job
    log.info(
        "%s page %d %s: %s rows loaded, %s rejected; %d credits this run (%d jobs created, "
        "%d polls); credits left: %s",
        extract.module,
        job.page,
        job.state.value,
        job.rows_loaded if job.rows_loaded is not None else "-",
        job.rows_rejected if job.rows_rejected is not None else "-",
        outcome.credits,
        outcome.jobs_created,
        outcome.polls,
        credits_left(rt, extract.product),
    )
    if progress is not None:
        more = bool(job.more_records)
        progress.update(job.page / (job.page + 1) if more else 1.0, f"page {job.page} {job.state}")
    return outcome


@task(name="rest-read", **ZOHO_CALL)  # type: ignore[call-overload]
def rest_delta_task(
    connection: ZohoConnection,
    settings: RunSettings,
    extract_id: str,
    since: datetime,
    max_records: int,
) -> PageOutcome:
    rt = runtime_for(connection, settings)
    return run_rest_page(rt, rt.ledger.get_extract(extract_id), since, max_records)


@task(name="deleted-records", **ZOHO_CALL)  # type: ignore[call-overload]
def deleted_task(
    connection: ZohoConnection,
    settings: RunSettings,
    product: str,
    module: str,
    table: str,
    since: datetime | None,
) -> int:
    return capture_deleted(runtime_for(connection, settings), product, module, table, since)


class PrefectSteps(DirectSteps):
    """Each Zoho step as a task run the UI names: ``bulk-read Leads page 3``."""

    def __init__(
        self,
        connection: ZohoConnection,
        settings: RunSettings,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(runtime_for(connection, settings))
        self.connection = connection
        self.settings = settings
        self.progress = progress

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        name = f"bulk-read {extract.module} page {job.page}"
        result: PageOutcome = bulk_page_task.with_options(task_run_name=name)(
            self.connection,
            self.settings,
            extract.extract_id,
            job.job_key,
            allow_split,
            self.progress,
        )
        return result

    def rest(self, extract: ExtractRecord, since: datetime, max_records: int) -> PageOutcome:
        name = f"rest-read {extract.module} since {since:%Y-%m-%d %H:%M}"
        result: PageOutcome = rest_delta_task.with_options(task_run_name=name)(
            self.connection, self.settings, extract.extract_id, since, max_records
        )
        return result

    def deleted(self, product: str, module: str, table: str, since: datetime | None) -> int:
        result: int = deleted_task.with_options(task_run_name=f"deleted-records {module}")(
            self.connection, self.settings, product, module, table, since
        )
        return result


@task(name="export-module", cache_policy=NO_CACHE)
def export_module_task(
    connection: ZohoConnection,
    settings: RunSettings,
    product: str,
    module: str,
    options: ExportOptions,
) -> ModuleSummary:
    """One module's export, with its progress artifact (100% when the module is done)."""
    rt = runtime_for(connection, settings)
    progress = Progress(product, module, f"{options.mode} export of {product} {module}")
    steps = PrefectSteps(connection, settings, progress)
    summary = export_module(rt, product, module, options, steps)
    progress.update(
        1.0,
        f"done: {summary.pages} page(s), {summary.rows_loaded} rows loaded, "
        f"{summary.rows_rejected} rejected, {summary.deleted} deleted",
    )
    return summary


@task(name="backfill-window", cache_policy=NO_CACHE)
def backfill_window_task(
    connection: ZohoConnection,
    settings: RunSettings,
    product: str,
    module: str,
    window: Window,
) -> WindowResult:
    rt = runtime_for(connection, settings)
    return backfill_window(rt, product, module, window, PrefectSteps(connection, settings))
