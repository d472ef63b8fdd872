"""Backfill: load one ``Modified_Time`` window, splitting it in two when one bulk page cannot
hold it (a window that overflowed page 1 is replaced by its halves; finished windows are
no-ops, so a killed backfill resumes window by window).

Before anything is spent, ``forecast_backfill`` says for each window still to do how it will
be read (REST or bulk), what that should cost and why; ``announce_forecast`` hands it to
whoever watches the run (``engine.progress``: the CLI prints it) before the first window
starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadQuery
from connectors.criteria import Criterion, where
from connectors.products import product_for
from engine import windows
from engine.cost import choose_window, rest_break_even
from engine.errors import BudgetExceededError, FlowsError
from engine.extract_finish import (
    advance_module_watermark,
    finish_loaded,
    latest_running_id,
    progress_so_far,
)
from engine.extracts import Steps, bulk_fields, bulk_with_replan, iso_utc
from engine.failpoints import failpoint
from engine.ledger import ExtractRecord, ExtractState, JobState, utcnow
from engine.planning import BULK_PER_PAGE, Method, MethodChoice, Window
from engine.progress import forecast as emit_forecast
from engine.rest import RestDeltaTooLarge
from engine.steps import Driver, RestDeltaStep, StepRunner, drive
from engine.summary import PageOutcome

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
    pages: int = 0
    method: str = Method.BULK.value
    reason: str = ""
    #: the loaded extracts of this window (more than one when it was split)
    extract_ids: list[str] = field(default_factory=list)


def window_query(
    module: str, window: Window, fields: Sequence[FieldSpec], on: str = "Modified_Time"
) -> dict[str, object]:
    """``on`` at or after the window's start and before its end (no end for an open window)."""
    criteria: Criterion = where(on).greater_equal(iso_utc(window.start))
    if not windows.is_open(window):
        criteria = criteria & where(on).less_than(iso_utc(window.end))
    return BulkReadQuery(module=module, fields=bulk_fields(fields), criteria=criteria).to_state()


def backfill_window(
    rt: Runtime,
    product: str,
    module: str,
    window: Window,
    steps: Steps,
    *,
    parent_id: str | None = None,
    kind: windows.WindowKind = windows.BACKFILL,
) -> WindowResult:
    """Load one window, each step through ``steps``."""
    driver = backfill_window_steps(rt, product, module, window, parent_id=parent_id, kind=kind)
    return drive(driver, StepRunner(steps))


def backfill_window_steps(
    rt: Runtime,
    product: str,
    module: str,
    window: Window,
    *,
    parent_id: str | None = None,
    kind: windows.WindowKind = windows.BACKFILL,
) -> Driver[WindowResult]:
    """Load one window; finished windows are no-ops; overflowing windows split in two.

    ``kind`` says which field the window ranges over and which run it belongs to
    (``engine.windows``); an open-ended window is not split but read page after page. A
    backfill window is read by REST or bulk, whichever costs less (``window_method``).
    """
    ledger = rt.ledger
    bounds = (window.start, window.end)
    result = WindowResult(window)
    find = partial(ledger.find_extract, org=rt.org, product=product, module=module, kind=kind.kind)
    loaded = find(window=bounds, state=ExtractState.LOADED)
    if loaded is not None and windows.belongs(ledger, loaded, kind):
        result.skipped = True
        return result
    split = find(window=bounds, state=ExtractState.SPLIT)
    if split is not None and not windows.belongs(ledger, split, kind):
        split = None
    if split is None:
        choice = window_method(rt, product, module, window, kind)
        extract, _ = ledger.open_extract(
            org=rt.org,
            product=product,
            module=module,
            kind=kind.kind,
            query=window_query(module, window, rt.fields(product, module), kind.field),
            method=choice.method.value,
            reason=f"{kind.describe(window)}: {choice.reason}",
            window=bounds,
            parent_id=parent_id,
        )
        outcomes: list[PageOutcome] = []
        if extract.method == Method.REST.value:
            try:
                cap = rest_break_even(product)
                outcomes.append((yield RestDeltaStep(extract, window.start, cap)))
            except RestDeltaTooLarge as exc:
                for job in ledger.jobs_for_extract(extract.extract_id):
                    if job.state is not JobState.LOADED:
                        ledger.mark_expired(job.job_key, str(exc))
                ledger.set_extract_method(extract.extract_id, Method.BULK.value, str(exc))
            extract = ledger.get_extract(extract.extract_id)
        result.method, result.reason = extract.method, extract.reason
        if extract.method == Method.BULK.value:
            try:
                outcomes += yield from bulk_with_replan(
                    rt, extract, allow_split=not windows.is_open(window)
                )
            except BudgetExceededError as exc:
                raise exc.with_progress(progress_so_far(rt, extract)) from None
            extract = ledger.get_extract(latest_running_id(rt, extract))
        result.credits += sum(o.credits for o in outcomes)
        result.bulk_jobs_created += sum(o.jobs_created for o in outcomes)
        if not any(o.split for o in outcomes):
            finished = finish_loaded(rt, extract)
            jobs = ledger.jobs_for_extract(finished.extract_id)
            result.rows_loaded = sum(j.rows_loaded or 0 for j in jobs)
            result.rows_rejected = sum(j.rows_rejected or 0 for j in jobs)
            result.pages = len(jobs)
            result.extract_ids.append(finished.extract_id)
            _advance_watermark_if_newer(rt, finished)
            return result
        split = ledger.finish_extract(extract.extract_id, ExtractState.SPLIT)
    halves = windows.split(window, utcnow())
    if halves is None:
        raise FlowsError(
            f"{product} {module} {kind.describe(window)} holds more records than one "
            "bulk page and is too short to split"
        )
    result.split_into = 2
    for half in halves:
        sub = yield from backfill_window_steps(
            rt, product, module, half, parent_id=split.extract_id, kind=kind
        )
        result.pages += sub.pages
        result.extract_ids.extend(sub.extract_ids)
        result.rows_loaded += sub.rows_loaded
        result.rows_rejected += sub.rows_rejected
        result.credits += sub.credits
        result.bulk_jobs_created += sub.bulk_jobs_created
    return result


def window_method(
    rt: Runtime, product: str, module: str, window: Window, kind: windows.WindowKind
) -> MethodChoice:
    """REST or bulk for a backfill window, by estimated credits (``cost.choose_window``);
    partition windows of a full export are always bulk (the export chose bulk already)."""
    if kind.kind != windows.BACKFILL.kind:
        return MethodChoice(Method.BULK, "bulk read", None, 0)
    last = rt.ledger.last_completed_job(rt.org, product, module)
    return choose_window(
        product,
        window,
        windows.previous_times(rt.settings, product, module, kind.field),
        per_page=last.per_page if last is not None and last.per_page else BULK_PER_PAGE,
        rest_supported=len(rt.fields(product, module)) <= product_for(product).rest_max_fields,
    )


@dataclass(frozen=True)
class WindowForecast:
    """How one window will be read, what that should cost and why."""

    window: Window
    choice: MethodChoice

    @property
    def credits(self) -> int:
        if self.choice.method is Method.REST:
            return self.choice.rest_credits or 0
        return self.choice.bulk_credits

    def line(self) -> str:
        method = "REST" if self.choice.method is Method.REST else "bulk"
        return f"  {self.window.label()}: {method}, ~{self.credits} credits ({self.choice.reason})"


@dataclass(frozen=True)
class BackfillForecast:
    """The windows of a backfill still to do, each with its method and estimated credits."""

    product: str
    module: str
    windows: list[WindowForecast]
    #: every window of the range, the loaded ones included
    total_windows: int
    #: credits already spent to plan it (the field metadata: which fields REST can read)
    planning_credits: int = 0

    @property
    def credits(self) -> int:
        """What the windows should cost, the planning's credits included."""
        return self.planning_credits + sum(w.credits for w in self.windows)

    def lines(self) -> list[str]:
        done = self.total_windows - len(self.windows)
        head = (
            f"forecast: backfill {self.product} {self.module}, {len(self.windows)} of "
            f"{self.total_windows} windows to do ({done} loaded before), ~{self.credits} "
            f"credits in all ({self.planning_credits} of them for the field metadata)"
        )
        return [head, *(w.line() for w in self.windows)]


def forecast_backfill(
    rt: Runtime,
    product: str,
    module: str,
    ranges: Sequence[Window],
    *,
    planning_credits: int = 0,
) -> BackfillForecast:
    """Method and estimated credits of each window of ``ranges`` not loaded yet."""
    pending = [
        w
        for w in ranges
        if rt.ledger.find_extract(
            org=rt.org,
            product=product,
            module=module,
            kind=windows.BACKFILL.kind,
            window=(w.start, w.end),
            state=ExtractState.LOADED,
        )
        is None
    ]
    return BackfillForecast(
        product,
        module,
        [
            WindowForecast(w, window_method(rt, product, module, w, windows.BACKFILL))
            for w in pending
        ],
        total_windows=len(ranges),
        planning_credits=planning_credits,
    )


def announce_forecast(forecast: BackfillForecast) -> None:
    """Give the forecast to the run's watchers (the CLI prints it) before any window starts."""
    emit_forecast(forecast.product, forecast.module, forecast.lines())
    failpoint("backfill-forecast", forecast.module, 0)


def _advance_watermark_if_newer(rt: Runtime, extract: ExtractRecord) -> None:
    """A backfill only moves the watermark when one exists (it never starts incrementals)."""
    if rt.ledger.get_watermark(extract.org, extract.product, extract.module) is not None:
        advance_module_watermark(rt, extract)
