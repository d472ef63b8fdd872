from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from engine.errors import BadDateRangeError
from engine.ledger import JobRecord, JobState, Watermark
from engine.planning import (
    Method,
    ResumeAction,
    Window,
    advance_watermark,
    backfill_windows,
    bulk_credits,
    choose_method,
    estimate_delta,
    incremental_since,
    rest_credits,
    resume_action,
    split_window,
)

T0 = datetime(2025, 3, 1, 12, 0)


def _job(state: JobState, **kw: object) -> JobRecord:
    job = JobRecord(
        job_key="e:p1",
        extract_id="e",
        org="o",
        product="crm",
        module="Leads",
        page=1,
        page_token=None,
        query={},
        state=state,
        job_id="42",
        created_at=T0,
        completed_at=T0,
        record_count=None,
        per_page=None,
        more_records=None,
        next_page_token=None,
        file_path=None,
        sha256=None,
        file_size=None,
        rows_read=None,
        rows_loaded=None,
        rows_rejected=None,
        credits=0,
        error=None,
        planned_at=T0,
        updated_at=T0,
    )
    return replace(job, **kw)  # type: ignore[arg-type]


def test_full_export_is_bulk() -> None:
    choice = choose_method(full=True, estimated_records=None)
    assert choice.method is Method.BULK


def test_small_delta_uses_rest_and_large_delta_bulk_with_reasons() -> None:
    small = choose_method(full=False, estimated_records=150)
    assert small.method is Method.REST
    assert small.rest_credits == 1
    assert "REST 1 credits <= bulk" in small.reason
    large = choose_method(full=False, estimated_records=50_000)
    assert large.method is Method.BULK
    assert "exceed the REST limit" in large.reason
    unknown = choose_method(full=False, estimated_records=None)
    assert unknown.method is Method.REST
    assert "probe" in unknown.reason
    no_rest = choose_method(full=False, estimated_records=10, rest_supported=False)
    assert no_rest.method is Method.BULK


def test_rest_loses_when_it_costs_more_than_a_bulk_job() -> None:
    # with a REST cap raised above the bulk break-even point, cost decides
    choice = choose_method(full=False, estimated_records=20_000, rest_max_records=100_000)
    assert choice.method is Method.BULK
    assert choice.bulk_credits == bulk_credits(20_000) < choice.rest_credits  # type: ignore[operator]


def test_estimate_delta_scales_from_last_run() -> None:
    assert estimate_delta(previous_rows=None, previous_span=None, since=T0, now=T0) is None
    est = estimate_delta(
        previous_rows=100,
        previous_span=timedelta(hours=1),
        since=T0,
        now=T0 + timedelta(hours=3),
    )
    assert est == 300


def test_incremental_window_overlaps_and_watermark_advances() -> None:
    assert incremental_since(None, timedelta(minutes=5)) is None
    wm = Watermark(T0, ("1",))
    assert incremental_since(wm, timedelta(minutes=5)) == T0 - timedelta(minutes=5)
    newer = advance_watermark(wm, [("2", T0), ("3", T0 - timedelta(days=1))])
    assert newer == Watermark(T0, ("1", "2"))
    newest = advance_watermark(newer, [("9", T0 + timedelta(seconds=1))])
    assert newest == Watermark(T0 + timedelta(seconds=1), ("9",))


def test_backfill_windows_cover_the_range_exactly() -> None:
    windows = backfill_windows(T0, T0 + timedelta(days=10), timedelta(days=3))
    assert [w.span for w in windows] == [timedelta(days=3)] * 3 + [timedelta(days=1)]
    assert windows[0].start == T0
    assert windows[-1].end == T0 + timedelta(days=10)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))


def test_bad_ranges_are_rejected() -> None:
    with pytest.raises(BadDateRangeError, match="end must be after the start"):
        backfill_windows(T0, T0, timedelta(days=1))
    with pytest.raises(BadDateRangeError, match="at least"):
        backfill_windows(T0, T0 + timedelta(days=1), timedelta(seconds=1))


def test_split_window_halves_until_it_cannot() -> None:
    halves = split_window(Window(T0, T0 + timedelta(days=2)))
    assert halves == (
        Window(T0, T0 + timedelta(days=1)),
        Window(T0 + timedelta(days=1), T0 + timedelta(days=2)),
    )
    assert split_window(Window(T0, T0 + timedelta(seconds=3))) is None


@pytest.mark.parametrize(
    ("state", "now", "action"),
    [
        (JobState.PLANNED, T0, ResumeAction.CREATE),
        (JobState.CREATED, T0 + timedelta(hours=1), ResumeAction.WAIT),
        (JobState.CREATED, T0 + timedelta(days=2), ResumeAction.REPLAN),
        (JobState.COMPLETED, T0 + timedelta(hours=1), ResumeAction.DOWNLOAD),
        (JobState.COMPLETED, T0 + timedelta(hours=25), ResumeAction.REPLAN),
        (JobState.DOWNLOADED, T0 + timedelta(days=3), ResumeAction.VERIFY),
        (JobState.LOADED, T0, ResumeAction.SKIP),
        (JobState.SPLIT, T0, ResumeAction.SKIP),
        (JobState.EXPIRED, T0, ResumeAction.SKIP),
        (JobState.FAILED, T0, ResumeAction.REPLAN),  # a failed page is read by a new job
    ],
)
def test_resume_action_per_state(state: JobState, now: datetime, action: ResumeAction) -> None:
    assert resume_action(_job(state), now).action is action


def test_planned_page_with_an_expired_token_is_replanned() -> None:
    job = _job(JobState.PLANNED, page_token="tok")
    fresh = resume_action(job, T0 + timedelta(hours=1), token_issued_at=T0)
    assert fresh.action is ResumeAction.CREATE
    stale = resume_action(job, T0 + timedelta(hours=24), token_issued_at=T0)
    assert stale.action is ResumeAction.REPLAN
    assert "24 h" in stale.reason


def test_rest_is_priced_at_the_products_page_cost() -> None:
    # Recruit charges 3 credits per Get Records page, CRM 1. One bulk page costs
    # bulk_credits(...) = 57, so 6,000 changed records (30 REST pages) are cheaper by REST on
    # CRM (30 credits) but cheaper by bulk on Recruit (90 credits).
    crm = choose_method(full=False, estimated_records=6_000, rest_max_records=100_000)
    recruit = choose_method(
        full=False, estimated_records=6_000, rest_max_records=100_000, rest_page_cost=3
    )
    assert crm.method is Method.REST
    assert crm.rest_credits == 30
    assert recruit.method is Method.BULK
    assert recruit.rest_credits == 90
    assert recruit.bulk_credits == bulk_credits(6_000) == 57
    assert rest_credits(401, page_cost=3) == 9
