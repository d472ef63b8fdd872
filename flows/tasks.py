"""Prefect tasks: thin wrappers that run one step of ``flows.extracts`` / ``flows.pages``.

Every task that calls Zoho uses ``cache_policy=NO_CACHE`` (a cached result would skip a
call that must happen) and retries only when the error is retriable (429, 5xx, dropped
connection, corrupt download); fatal errors fail at once with their message. Steps are
idempotent thanks to the ledger, so a retry continues where the failed attempt stopped.

Tasks take the picklable ``ZohoConnection`` / ``RunSettings`` and ids, and look up this
process's ``Runtime``; that keeps them runnable on a Dask worker as well as in a thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.errors import RetriableError
from flows.artifacts import Progress
from flows.extracts import (
    DirectSteps,
    ExportOptions,
    WindowResult,
    backfill_window,
    export_module,
    run_rest_page,
)
from flows.ledger import ExtractRecord, JobRecord
from flows.pages import PageOutcome, run_bulk_page
from flows.planning import Window
from flows.reporting import ModuleSummary
from flows.rest import capture_deleted
from flows.runtime import runtime_for
from flows.settings import RunSettings, ZohoConnection


def only_retriable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry a failed task only for retriable errors."""
    try:
        state.result()
    except RetriableError:
        return True
    except Exception:
        return False
    return False


ZOHO_CALL = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 2,
    "retry_condition_fn": only_retriable,
}


@task(name="bulk-read page", **ZOHO_CALL)  # type: ignore[call-overload]
def bulk_page_task(
    connection: ZohoConnection,
    settings: RunSettings,
    extract_id: str,
    job_key: str,
    allow_split: bool,
    progress_what: str | None = None,
) -> PageOutcome:
    rt = runtime_for(connection, settings)
    extract = rt.ledger.get_extract(extract_id)
    fields = rt.fields(extract.product, extract.module)
    progress = Progress(extract.product, extract.module, progress_what) if progress_what else None

    def on_poll(job: JobRecord, state: str, polls: int) -> None:
        if progress is not None:
            done = max(job.page - 1, 0)
            progress.update(done / job.page, f"page {job.page}: job {state} (poll {polls})")

    outcome = run_bulk_page(rt, extract, job_key, fields, allow_split=allow_split, on_poll=on_poll)
    if progress is not None:
        more = bool(outcome.job.more_records)
        page = outcome.job.page
        progress.update(page / (page + 1) if more else 1.0, f"page {page} {outcome.job.state}")
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
    """Each Zoho step as a task the UI names: ``bulk-read Leads page 3``."""

    def __init__(self, connection: ZohoConnection, settings: RunSettings) -> None:
        super().__init__(runtime_for(connection, settings))
        self.connection = connection
        self.settings = settings

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        name = f"bulk-read {extract.module} page {job.page}"
        what = f"{extract.kind} {extract.product} {extract.module}"
        result: PageOutcome = bulk_page_task.with_options(name=name)(
            self.connection, self.settings, extract.extract_id, job.job_key, allow_split, what
        )
        return result

    def rest(self, extract: ExtractRecord, since: datetime, max_records: int) -> PageOutcome:
        name = f"rest-read {extract.module} since {since:%Y-%m-%d %H:%M}"
        result: PageOutcome = rest_delta_task.with_options(name=name)(
            self.connection, self.settings, extract.extract_id, since, max_records
        )
        return result

    def deleted(self, product: str, module: str, table: str, since: datetime | None) -> int:
        result: int = deleted_task.with_options(name=f"deleted-records {module}")(
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
    rt = runtime_for(connection, settings)
    return export_module(rt, product, module, options, PrefectSteps(connection, settings))


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
