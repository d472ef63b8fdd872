"""A full export as concurrent bulk jobs over disjoint ``Created_Time`` windows.

A serial full export waits for Zoho once per 200,000-record page (page N+1 needs page N's
``next_page_token``). When the module's last export tells how its records spread over
``Created_Time``, ``plan_full_export`` cuts the module into as many windows as pages (the same
credits) and ``run_partition`` reads them as concurrent jobs, up to ``active_bulk_jobs``, each
loaded as it finishes. Each window is an extract of kind ``partition`` under the export's
extract, run by ``backfill.backfill_window_steps`` (the backfill's mechanism: ledger, resume, budget
and splitting are the same); a re-run after a crash skips the windows already loaded.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import windows
from engine.failpoints import failpoint
from engine.planning import BULK_PER_PAGE, Window
from engine.steps import Step, drive

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.backfill import WindowResult
    from engine.ledger import ExtractRecord
    from engine.runtime import Runtime

log = logging.getLogger("engine.partitions")


@dataclass(frozen=True)
class PartitionPlan:
    windows: list[Window]
    reason: str


def plan_full_export(
    rt: Runtime, product: str, module: str, created: pa.Array | None
) -> PartitionPlan | None:
    """Windows for a full export of ``module`` from the ``Created_Time`` of the records its
    earlier runs exported (``windows.previous_created_times``), or None when it reads its
    pages serially: parallel jobs are off (``active_bulk_jobs`` 1), nothing was exported
    before (no distribution to cut), or the module fits one page."""
    jobs_at_once = rt.settings.active_bulk_jobs
    if jobs_at_once < 2 or created is None:
        return None
    last = rt.ledger.last_completed_job(rt.org, product, module)
    per_page = last.per_page if last is not None and last.per_page else BULK_PER_PAGE
    plan = windows.plan_partition(created, per_page)
    if len(plan) < 2:
        return None
    reason = (
        f"full export: {len(plan)} {windows.PARTITION_FIELD} windows of <= {per_page} records "
        f"(cut from the {len(created)} records exported before), "
        f"{min(jobs_at_once, len(plan))} bulk jobs at once"
    )
    return PartitionPlan(plan, reason)


def run_partition(
    rt: Runtime, extract: ExtractRecord, run: Callable[[Step], Any]
) -> list[WindowResult]:
    """Every window of ``extract``'s plan, concurrently, each window's steps through ``run``;
    a failure is raised once every other window has finished (what they loaded stays loaded
    and a re-run skips it)."""
    from engine.backfill import backfill_window_steps

    plan = windows.plan_from_state(extract.query.get("partition"))
    if not plan:
        raise ValueError(f"extract {extract.extract_id} has no partition plan")
    kind = windows.partition_kind(extract.extract_id)
    workers = min(rt.settings.active_bulk_jobs, len(plan))
    results: list[WindowResult] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(workers, thread_name_prefix=f"window-{extract.module}") as pool:
        futures: list[Future[WindowResult]] = [
            # each thread runs in a copy of this context (a Prefect task run's, in a flow)
            pool.submit(
                contextvars.copy_context().run,
                drive,
                backfill_window_steps(
                    rt,
                    extract.product,
                    extract.module,
                    window,
                    parent_id=extract.extract_id,
                    kind=kind,
                ),
                run,
            )
            for window in plan
        ]
        for future in as_completed(futures):
            try:
                results.append(future.result())
            except Exception as exc:  # the other windows still finish and stay loaded
                errors.append(exc)
                continue
            failpoint("window-loaded", extract.module, len(results))
    if errors:
        for extra in errors[1:]:
            log.error("%s: another window failed too: %s", extract.module, extra)
        raise errors[0]
    return results
