"""``engine.progress``: observers see each module's pages; a cancelled run stops after a page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from engine.cancel import RunCancelledError, cancellable_sleep, clear_cancel, request_cancel
from engine.ledger import ExtractRecord, JobState
from engine.progress import ProgressEvent, module_started, observe, page_done
from engine.summary import PageOutcome
from tests.engine.jobrows import job

EXTRACT = cast("ExtractRecord", SimpleNamespace(product="crm", module="Leads", method="bulk"))


def loaded(page: int, rows: int, more: bool) -> PageOutcome:
    record = job(
        page, 3.0, state=JobState.LOADED, rows_loaded=rows, rows_rejected=1, more_records=more
    )
    return PageOutcome(job=record, credits=52)


@pytest.fixture(autouse=True)
def not_cancelled() -> Any:
    clear_cancel()
    yield
    clear_cancel()


def test_observers_see_pages_only_inside_the_block() -> None:
    seen: list[ProgressEvent] = []
    with observe(seen.append):
        module_started("crm", "Leads", "bulk")
        page_done(EXTRACT, loaded(1, 200_000, more=True))
    page_done(EXTRACT, loaded(2, 100_000, more=False))  # nobody watches any more
    assert [(e.kind, e.page, e.rows, e.rejects, e.credits, e.more) for e in seen] == [
        ("started", 0, 0, 0, 0, False),
        ("page", 1, 200_000, 1, 52, True),
    ]


def test_a_cancelled_run_stops_after_the_committed_page_and_in_waits() -> None:
    seen: list[ProgressEvent] = []
    request_cancel()
    with observe(seen.append), pytest.raises(RunCancelledError, match="Leads page 2"):
        page_done(EXTRACT, loaded(1, 10, more=True))
    assert [e.page for e in seen] == [1]  # the loaded page is still reported
    with pytest.raises(RunCancelledError):
        cancellable_sleep(3600)  # returns at once: the flag is already set
