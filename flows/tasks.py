"""Prefect tasks: thin wrappers that run the engine's steps (``engine.steps``).

A module's export (``export_module_task``) drives the engine's step generator and runs each
step it yields as its own task (``TaskPerStep``); each task calls ``engine.steps.run_step``.

Every task that calls Zoho uses ``cache_policy=NO_CACHE`` (a cached result would skip a
call that must happen). Retries happen in one layer per kind of failure: each HTTP request
retries 429s, 5xx answers and dropped connections itself (``connectors.retry``, up to six
attempts), so a task that still failed with one of those is not retried again (that would
be up to 3 x 6 attempts of a failing call); Prefect retries a Zoho task only when the whole
step can succeed on a second try and nothing below retried it: a bulk job that outlived its
poll timeout (``JobTimeoutError``: the retry re-attaches to the same job). Fatal errors fail
at once with their message. Steps are idempotent thanks to the ledger, so a retry continues
where the failed attempt stopped.

Tasks take the picklable ``ZohoConnection`` / ``RunSettings`` and steps, and look up this
process's ``Runtime``; that keeps them runnable on a Dask worker as well as in a thread.
Task runs are named after what they do (``bulk-read Leads page 3``) with ``task_run_name``.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.errors import (
    ConnectionDroppedError,
    CorruptZipError,
    RateLimitedError,
    ServerError,
)
from engine.backfill import WindowResult, backfill_window_steps
from engine.extracts import ExportOptions, export_module_steps
from engine.ledger import JobRecord
from engine.partitions import run_partition
from engine.planning import Window
from engine.runtime import Runtime, runtime_for
from engine.settings import RunSettings, ZohoConnection
from engine.steps import (
    BulkPageStep,
    DeletedStep,
    PartitionStep,
    RestDeltaStep,
    Step,
    drive,
    run_step,
)
from engine.summary import ModuleSummary, PageOutcome
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
    step: BulkPageStep,
    progress: Progress | None = None,
) -> PageOutcome:
    rt = runtime_for(connection, settings)
    module = step.extract.module
    seen: dict[str, str] = {}

    def on_poll(job: JobRecord, state: str, polls: int) -> None:
        if seen.get(job.job_key) != state:
            seen[job.job_key] = state
            log.info(
                "%s page %d: bulk job %s (%d credits so far) is %s (poll %d)",
                module,
                job.page,
                job.job_id,
                job.credits,
                state,
                polls,
            )
        if progress is not None:
            done = max(job.page - 1, 0)
            progress.update(done / job.page, f"page {job.page}: job {state} (poll {polls})")

    outcome: PageOutcome = run_step(rt, step, on_poll=on_poll)
    job = outcome.job
    log.info(
        "%s page %d %s: %s rows loaded, %s rejected; %d credits this run (%d jobs created, "
        "%d polls); credits left: %s",
        module,
        job.page,
        job.state.value,
        job.rows_loaded if job.rows_loaded is not None else "-",
        job.rows_rejected if job.rows_rejected is not None else "-",
        outcome.credits,
        outcome.jobs_created,
        outcome.polls,
        credits_left(rt, step.extract.product),
    )
    if progress is not None:
        more = bool(job.more_records)
        progress.update(job.page / (job.page + 1) if more else 1.0, f"page {job.page} {job.state}")
    return outcome


@task(name="rest-read", **ZOHO_CALL)  # type: ignore[call-overload]
def rest_delta_task(
    connection: ZohoConnection, settings: RunSettings, step: RestDeltaStep
) -> PageOutcome:
    outcome: PageOutcome = run_step(runtime_for(connection, settings), step)
    return outcome


@task(name="deleted-records", **ZOHO_CALL)  # type: ignore[call-overload]
def deleted_task(connection: ZohoConnection, settings: RunSettings, step: DeletedStep) -> int:
    return int(run_step(runtime_for(connection, settings), step))


class TaskPerStep:
    """Runs each step the engine yields as a task run the UI names (``bulk-read Leads page
    3``); the task calls ``engine.steps.run_step``."""

    def __init__(
        self,
        connection: ZohoConnection,
        settings: RunSettings,
        progress: Progress | None = None,
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.progress = progress

    def __call__(self, step: Step) -> Any:
        if isinstance(step, PartitionStep):  # its windows' steps come back here, as tasks
            return run_partition(runtime_for(self.connection, self.settings), step.extract, self)
        if isinstance(step, BulkPageStep):
            return bulk_page_task.with_options(task_run_name=step.name)(
                self.connection, self.settings, step, self.progress
            )
        if isinstance(step, RestDeltaStep):
            return rest_delta_task.with_options(task_run_name=step.name)(
                self.connection, self.settings, step
            )
        return deleted_task.with_options(task_run_name=step.name)(
            self.connection, self.settings, step
        )


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
    driver = export_module_steps(rt, product, module, options)
    summary = drive(driver, TaskPerStep(connection, settings, progress))
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
    driver = backfill_window_steps(rt, product, module, window)
    return drive(driver, TaskPerStep(connection, settings))
