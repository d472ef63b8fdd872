"""When to poll a bulk-read job, and the wait for it to end.

A job this process created is watched from its creation: a callback, or the time a comparable
job took (``expected_job_seconds``), says when to poll first, so no poll is spent on a job that
cannot be done yet. A job of an earlier process (a resume) is polled at once: a job that ended
while no process watched it leaves no job time (the downtime is not Zoho's; estimates skip it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob
from engine.cancel import cancellable_sleep
from engine.credit_ledger import charged_to_page
from engine.ledger import ExtractRecord, JobRecord, utcnow
from engine.summary import PageOutcome

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = logging.getLogger("engine.page_wait")
#: the longest wait before a job's first poll, whatever the estimate says
MAX_FIRST_POLL_DELAY = 600.0

#: Zoho ids of the bulk jobs this process created (their end is watched from creation on);
#: a job of an earlier process is polled at once when a run resumes.
_created_here: set[str] = set()
_created_here_lock = threading.Lock()

PollObserver = Callable[[JobRecord, str, int], None]


def remember_created(job_id: str) -> None:
    """Note that this process created ``job_id`` (its end is watched from now on)."""
    with _created_here_lock:
        _created_here.add(job_id)


def wait_for_job(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    outcome: PageOutcome,
    on_poll: PollObserver | None,
) -> tuple[BulkReadJob, bool]:
    """Wait for the job to end: ``(job, watched)``, watched when its end time is known.

    A job this process created is watched from its creation: a callback or the expected
    job time says when to poll first. A job of an earlier process (a resume) is polled at
    once, then on the normal schedule; its time counts only if a poll sees it still running
    (if it ended during the downtime, the time it took is unknown).
    """
    assert job.job_id is not None
    polls = 0
    saw_running = False

    def observe(state: BulkReadJob) -> None:
        nonlocal polls, saw_running
        polls += 1
        saw_running = saw_running or not state.state.finished
        if on_poll is not None:
            on_poll(job, state.raw_state, polls)

    with _created_here_lock:
        created_here = job.job_id in _created_here
    if rt.callbacks is not None:  # Zoho says when the job ends; polls only if it never does
        rt.callbacks.wait_for(job.job_id, rt.settings.callback_fallback_s)
    elif created_here:
        _sleep_until_expected_done(rt, extract, job)
    try:  # each poll is reserved before it is sent: the budget may stop a run here
        with charged_to_page(job):
            live = rt.client(extract.product).bulk_read.wait(job.job_id, on_poll=observe)
        return live, created_here or saw_running
    finally:
        outcome.polls += polls


def _sleep_until_expected_done(rt: Runtime, extract: ExtractRecord, job: JobRecord) -> None:
    """Skip the polls a job cannot answer yet: a comparable job took this long."""
    if job.created_at is None:
        return
    earlier = rt.ledger.jobs_for_extract(extract.extract_id)
    expected = expected_job_seconds(job, earlier, None)
    if expected is None:  # a first page: the last export's job time (one more query)
        history = rt.ledger.last_completed_job(
            extract.org, extract.product, extract.module, other_than_extract=extract.extract_id
        )
        expected = expected_job_seconds(job, earlier, history)
    pause = first_poll_delay(job, expected, utcnow())
    if pause > 0.05:
        log.debug(
            "%s: first poll in %.1f s (expected job time %.1f s)", job.job_key, pause, expected
        )
        cancellable_sleep(pause)


def first_poll_delay(job: JobRecord, expected: float | None, now: datetime) -> float:
    """Seconds to wait before the first poll of ``job``: most of the expected job time,
    less the time since it was created; 0 when nothing is expected."""
    if expected is None or job.created_at is None:
        return 0.0
    pause = 0.8 * expected - (now - job.created_at).total_seconds()
    return min(max(pause, 0.0), MAX_FIRST_POLL_DELAY)


def expected_job_seconds(
    job: JobRecord, extract_jobs: Sequence[JobRecord], history: JobRecord | None
) -> float | None:
    """How long ``job`` should take on Zoho's side, or None when nothing is known.

    Only watched job times count (``JobRecord.job_seconds``): a job that ended while no
    process was running has no time, so a resume's downtime never becomes an estimate.
    The latest earlier page of the same extract (``extract_jobs``) that completed decides;
    a first page (no such job) takes ``history``'s time: the last completed job of the
    same org/product/module in an earlier extract (`Ledger.last_completed_job`).
    """
    previous = [
        seconds
        for j in extract_jobs
        if j.page < job.page and (seconds := j.job_seconds) is not None
    ]
    if previous:
        return previous[-1]
    return None if history is None else history.job_seconds
