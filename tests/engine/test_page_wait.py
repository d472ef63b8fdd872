from __future__ import annotations

from datetime import timedelta

from engine.page_wait import MAX_FIRST_POLL_DELAY, expected_job_seconds, first_poll_delay
from tests.engine.jobrows import T0, job


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
