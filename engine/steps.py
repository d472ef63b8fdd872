"""The steps of an export or a backfill that talk to Zoho, and how they are run.

The engine's drivers (``extracts.export_module_steps``, ``backfill.backfill_window_steps``,
``pages.bulk_extract_steps``) are generators: they *yield* a step, and get its outcome back
through ``send`` (or its error through ``throw``, so a driver's ``try/except`` around a step
works as if it had called it). Whoever drives them decides how a step runs: ``drive`` with
``run_step`` runs each in the calling thread; the Prefect flows run each as a named task that
calls ``run_step``. So a task calls the engine, and the engine never calls a task.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine.ledger import ExtractRecord, JobRecord

if TYPE_CHECKING:
    from engine.page_wait import PollObserver
    from engine.runtime import Runtime

Result = TypeVar("Result")


@dataclass(frozen=True)
class BulkPageStep:
    """Bring one bulk-read page (a planned ledger row) to ``loaded`` (``run_bulk_page``)."""

    extract: ExtractRecord
    job: JobRecord
    allow_split: bool = False

    @property
    def name(self) -> str:
        return f"bulk-read {self.extract.module} page {self.job.page}"


@dataclass(frozen=True)
class RestDeltaStep:
    """Read the records changed since ``since`` through REST and load them as one page."""

    extract: ExtractRecord
    since: datetime
    max_records: int

    @property
    def name(self) -> str:
        return f"rest-read {self.extract.module} since {self.since:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class DeletedStep:
    """Mark the records deleted in Zoho since ``since`` in ``table``; the outcome is a count."""

    product: str
    module: str
    table: str
    since: datetime | None

    @property
    def name(self) -> str:
        return f"deleted-records {self.module}"


@dataclass(frozen=True)
class PartitionStep:
    """Every ``Created_Time`` window of a partitioned full export, run concurrently
    (``partitions.run_partition``); each window's own steps go back to the same runner. The
    outcome is the windows' ``backfill.WindowResult`` list."""

    extract: ExtractRecord

    @property
    def name(self) -> str:
        return f"windows {self.extract.module}"


Step = BulkPageStep | RestDeltaStep | DeletedStep | PartitionStep
#: A driver: yields steps, is sent each step's outcome, returns its result.
Driver = Generator[Step, Any, Result]


def run_step(rt: Runtime, step: Step, *, on_poll: PollObserver | None = None) -> Any:
    """Run one step here: a ``PageOutcome`` for a page or a REST delta, a count for deletions."""
    from engine.pages import run_bulk_page
    from engine.partitions import run_partition
    from engine.rest import capture_deleted, run_rest_page

    if isinstance(step, PartitionStep):
        return run_partition(rt, step.extract, lambda s: run_step(rt, s, on_poll=on_poll))
    if isinstance(step, BulkPageStep):
        fields = rt.fields(step.extract.product, step.extract.module)
        return run_bulk_page(
            rt,
            step.extract,
            step.job.job_key,
            fields,
            allow_split=step.allow_split,
            on_poll=on_poll,
        )
    if isinstance(step, RestDeltaStep):
        return run_rest_page(rt, step.extract, step.since, step.max_records)
    return capture_deleted(rt, step.product, step.module, step.table, step.since)


def drive(driver: Driver[Result], run: Callable[[Step], Any]) -> Result:
    """Run every step ``driver`` yields with ``run`` and return the driver's result.

    A step's error is thrown into the driver at the ``yield`` that asked for it; what the
    driver does not handle comes out of here.
    """
    try:
        step = next(driver)
        while True:
            try:
                outcome = run(step)
            except Exception as exc:
                step = driver.throw(exc)
            else:
                step = driver.send(outcome)
    except StopIteration as stop:
        result: Result = stop.value
        return result


class StepRunner:
    """Runs steps through the three methods of a ``Steps`` object (``DirectSteps`` and the
    benchmark's timed subclass), so both keep their shape."""

    def __init__(self, steps: Any) -> None:
        self.steps = steps

    def __call__(self, step: Step) -> Any:
        if isinstance(step, PartitionStep):
            from engine.partitions import run_partition

            return run_partition(self.steps.rt, step.extract, self)
        if isinstance(step, BulkPageStep):
            return self.steps.page(step.extract, step.job, step.allow_split)
        if isinstance(step, RestDeltaStep):
            return self.steps.rest(step.extract, step.since, step.max_records)
        return self.steps.deleted(step.product, step.module, step.table, step.since)
