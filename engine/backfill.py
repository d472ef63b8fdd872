"""Backfill: load one ``Modified_Time`` window, splitting it in two when one bulk page cannot
hold it (a window that overflowed page 1 is replaced by its halves; finished windows are
no-ops, so a killed backfill resumes window by window)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadQuery
from connectors.criteria import where
from engine.errors import BudgetExceededError, FlowsError
from engine.extracts import (
    Steps,
    advance_module_watermark,
    bulk_fields,
    bulk_with_replan,
    finish_loaded,
    iso_utc,
    latest_running_id,
    progress_so_far,
)
from engine.ledger import ExtractRecord, ExtractState
from engine.planning import Method, Window, split_window
from engine.steps import Driver, StepRunner, drive

if TYPE_CHECKING:
    from collections.abc import Sequence

    from connectors.fields import FieldSpec
    from engine.runtime import Runtime


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
    """Load one window, each step through ``steps``."""
    driver = backfill_window_steps(rt, product, module, window, parent_id=parent_id)
    return drive(driver, StepRunner(steps))


def backfill_window_steps(
    rt: Runtime,
    product: str,
    module: str,
    window: Window,
    *,
    parent_id: str | None = None,
) -> Driver[WindowResult]:
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
            outcomes = yield from bulk_with_replan(rt, extract, allow_split=True)
        except BudgetExceededError as exc:
            raise exc.with_progress(progress_so_far(rt, extract)) from None
        extract = ledger.get_extract(latest_running_id(rt, extract))
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
        sub = yield from backfill_window_steps(
            rt, product, module, half, parent_id=split.extract_id
        )
        result.rows_loaded += sub.rows_loaded
        result.rows_rejected += sub.rows_rejected
        result.credits += sub.credits
        result.bulk_jobs_created += sub.bulk_jobs_created
    return result


def _advance_watermark_if_newer(rt: Runtime, extract: ExtractRecord) -> None:
    """A backfill only moves the watermark when one exists (it never starts incrementals)."""
    if rt.ledger.get_watermark(extract.org, extract.product, extract.module) is not None:
        advance_module_watermark(rt, extract)
