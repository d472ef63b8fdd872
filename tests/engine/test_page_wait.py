"""How long a bulk job took, estimated from the polls that watched it (Zoho's status has no
end time): never the moment this process happened to see it done."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine import page_wait
from engine.page_wait import job_seconds
from tests.engine.jobrows import T0, job


def seen_done_at(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The poll that saw the job done came ``seconds`` after its creation (T0)."""
    monkeypatch.setattr(page_wait, "utcnow", lambda: T0 + timedelta(seconds=seconds))


def test_a_job_ends_between_the_poll_that_saw_it_running_and_the_one_that_saw_it_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen_done_at(monkeypatch, 6.0)
    took = job_seconds(job(1, None), True, T0 + timedelta(seconds=4.0))
    assert took == pytest.approx(5.0)


def test_a_job_first_polled_after_a_long_load_is_not_recorded_as_that_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # created ahead, then the previous page loaded for 8 s: the first poll saw it done
    seen_done_at(monkeypatch, 8.0)
    assert job_seconds(job(2, None), True, None) == pytest.approx(4.0)


def test_a_callback_gives_the_end_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    seen_done_at(monkeypatch, 30.0)  # the callback came while the process was busy
    ended: datetime = T0 + timedelta(seconds=2.5)
    assert job_seconds(job(1, None), True, None, ended) == pytest.approx(2.5)


def test_a_job_of_an_earlier_process_seen_done_at_once_has_no_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen_done_at(monkeypatch, 3600.0)  # it may have ended during the downtime
    assert job_seconds(job(1, None), False, None) is None
    assert job_seconds(job(1, None), False, T0 + timedelta(seconds=3500)) == pytest.approx(3550)
