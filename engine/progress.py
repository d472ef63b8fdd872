"""Progress events of a run, for whoever watches it (the CLI's live display), without ``rich``.

The engine calls ``module_started`` / ``page_done`` / ``module_finished`` as it goes; each
event goes to every observer registered with ``observe`` in this process (the CLI registers
one around a run). With no observer an event costs a list lookup. Observers are called from
the worker threads that run the modules, so they must be thread-safe and quick. Runs on a
Dask cluster emit in the workers' processes, where nobody observes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from engine.cancel import check_cancelled

if TYPE_CHECKING:
    from engine.ledger import ExtractRecord
    from engine.summary import ModuleSummary, PageOutcome

EventKind = Literal["started", "page", "finished", "forecast"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of one module: it started, loaded a page, or finished."""

    kind: EventKind
    product: str
    module: str
    page: int = 0
    rows: int = 0
    rejects: int = 0
    credits: int = 0
    #: the page's job holds more records (another page follows)
    more: bool = False
    method: str = ""
    #: a forecast's lines (what a run will read how, and what it should cost), to print
    lines: tuple[str, ...] = ()
    #: "started": pages expected in all (None: unknown; ``engine.page_estimate``)
    pages_expected: int | None = None


class ProgressObserver(Protocol):
    def __call__(self, event: ProgressEvent, /) -> None: ...


_observers: list[ProgressObserver] = []
_lock = threading.Lock()


@contextmanager
def observe(observer: ProgressObserver) -> Iterator[None]:
    """Send this process's progress events to ``observer`` inside the block."""
    with _lock:
        _observers.append(observer)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(observer)


def emit(event: ProgressEvent) -> None:
    for observer in tuple(_observers):
        observer(event)


def module_started(
    product: str, module: str, method: str = "", pages_expected: int | None = None
) -> None:
    if _observers:
        emit(
            ProgressEvent(
                "started",
                product,
                module,
                method=method,
                pages_expected=pages_expected,
            )
        )


def forecast(product: str, module: str, lines: list[str]) -> None:
    """What a run is about to spend, said before it spends it (the CLI prints the lines)."""
    if _observers:
        emit(ProgressEvent("forecast", product, module, lines=tuple(lines)))


def page_done(extract: ExtractRecord, outcome: PageOutcome) -> None:
    """A page is committed: tell the observers, then stop here if the run was cancelled."""
    if _observers:
        _emit_page(extract, outcome)
    check_cancelled(f"{extract.module} page {outcome.job.page + 1}")


def _emit_page(extract: ExtractRecord, outcome: PageOutcome) -> None:
    job = outcome.job
    emit(
        ProgressEvent(
            "page",
            extract.product,
            extract.module,
            page=job.page,
            rows=job.rows_loaded or 0,
            rejects=job.rows_rejected or 0,
            credits=outcome.credits,
            more=bool(job.more_records),
            method=extract.method,
        )
    )


def module_finished(summary: ModuleSummary) -> None:
    if _observers:
        emit(
            ProgressEvent(
                "finished",
                summary.product,
                summary.module,
                rows=summary.rows_loaded,
                rejects=summary.rows_rejected,
                credits=summary.credits,
                method=summary.method,
            )
        )
