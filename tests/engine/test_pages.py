from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from engine.ledger import JobRecord, JobState
from engine.pages import MAX_FIRST_POLL_DELAY, expected_job_seconds, first_poll_delay

T0 = datetime(2026, 1, 1, 9, 0)


def job(page: int, took: float | None, *, extract_id: str = "e1", **kw: Any) -> JobRecord:
    """A ledger row of ``page`` whose Zoho job took ``took`` seconds (None: not completed)."""
    values: dict[str, Any] = {
        "job_key": f"{extract_id}:p{page}",
        "extract_id": extract_id,
        "org": "700000001",
        "product": "crm",
        "module": "Leads",
        "page": page,
        "page_token": None,
        "query": {},
        "state": JobState.CREATED if took is None else JobState.COMPLETED,
        "job_id": f"48768760000000{page}",
        "created_at": T0,
        "completed_at": None if took is None else T0 + timedelta(seconds=took),
        "job_seconds": took,
        "record_count": None,
        "per_page": None,
        "more_records": None,
        "next_page_token": None,
        "file_path": None,
        "sha256": None,
        "file_size": None,
        "rows_read": None,
        "rows_loaded": None,
        "rows_rejected": None,
        "credits": 0,
        "error": None,
        "planned_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    return JobRecord(**values)


def test_the_previous_page_of_the_extract_decides() -> None:
    current = job(3, None)
    extract_jobs = [job(1, 40.0), job(2, 25.0), current]
    assert expected_job_seconds(current, extract_jobs, job(1, 90.0, extract_id="e0")) == 25.0


def test_a_first_page_takes_the_last_extracts_job_time() -> None:
    current = job(1, None)
    assert expected_job_seconds(current, [current], job(4, 60.0, extract_id="e0")) == 60.0


def test_pages_not_completed_are_skipped_and_history_fills_in() -> None:
    current = job(2, None)
    extract_jobs = [job(1, None), current]
    assert expected_job_seconds(current, extract_jobs, None) is None
    assert expected_job_seconds(current, extract_jobs, job(1, 30.0, extract_id="e0")) == 30.0


def test_nothing_known_means_no_expectation() -> None:
    current = job(1, None)
    assert expected_job_seconds(current, [current], None) is None
    assert expected_job_seconds(current, [current], job(1, None, extract_id="e0")) is None


def test_a_later_page_never_sets_the_expectation() -> None:
    current = job(2, None)
    assert expected_job_seconds(current, [job(3, 10.0), current], None) is None


def test_a_job_that_ended_during_downtime_sets_no_expectation() -> None:
    # page 1 was created, the process was killed and re-run 12 minutes later: the job's end
    # was not watched, so it has a completion time but no job time
    resumed = job(1, 720.0, job_seconds=None)
    page2 = job(2, None, created_at=T0 + timedelta(seconds=720))
    assert expected_job_seconds(page2, [resumed, page2], None) is None
    assert first_poll_delay(page2, None, T0 + timedelta(seconds=720)) == 0.0
    history = job(1, 30.0, extract_id="e0")
    assert expected_job_seconds(page2, [resumed, page2], history) == 30.0


def test_the_first_poll_waits_most_of_the_expected_time_less_the_time_gone() -> None:
    page2 = job(2, None)
    assert first_poll_delay(page2, 30.0, T0) == 24.0
    assert first_poll_delay(page2, 30.0, T0 + timedelta(seconds=20)) == 4.0
    assert first_poll_delay(page2, 30.0, T0 + timedelta(minutes=12)) == 0.0  # a resume
    assert first_poll_delay(page2, 7200.0, T0) == MAX_FIRST_POLL_DELAY


def test_the_ledger_row_is_the_paginators_state() -> None:
    from connectors.products import BulkPaging
    from engine.pages import next_page_query

    done = job(2, 3.0, query={"module": "Leads", "page": 2, "page_token": "t2"})
    done = replace(done, more_records=True, next_page_token="t3")
    nxt = next_page_query(done, BulkPaging.PAGE_TOKEN)
    assert (nxt.module, nxt.page, nxt.page_token) == ("Leads", 3, "t3")
    assert next_page_query(done, BulkPaging.PAGE).page_token is None
