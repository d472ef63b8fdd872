"""When to poll a bulk-read job, and the wait for it to end.

A job this process created is watched from its creation: a callback, or the polls planned
from the module's recent job times (``engine.poll_schedule``), says when to ask, so no poll is
spent on a job that cannot be done yet. A job of an earlier process (a resume) is polled at
once: a job that ended while no process watched it leaves no job time (the downtime is not
Zoho's; the plans skip it).

Zoho's job status has no completion time, so a job's time is estimated from the polls: it
ended after the last poll that saw it running (or its creation) and before the poll that saw
it done. The middle of that interval is recorded, not the moment it was seen done: that
moment includes the time this process was busy loading the page before, and job times that
grow by it would plan later polls and add more of it (``engine.poll_schedule``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob
from engine.credit_ledger import charged_to_page
from engine.ledger import ExtractRecord, JobRecord, utcnow
from engine.poll_schedule import wait_on_schedule
from engine.summary import PageOutcome

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = logging.getLogger("engine.page_wait")

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
) -> tuple[BulkReadJob, float | None]:
    """Wait for the job to end: ``(job, seconds)``, the estimated seconds Zoho took (see the
    module) when it is known, else None.

    A job this process created is watched from its creation: a callback or the polls
    planned from the module's job times say when to ask. A job of an earlier process (a
    resume) is polled at once, then on the normal schedule; its time counts only if a poll
    sees it still running (if it ended during the downtime, the time it took is unknown).
    """
    assert job.job_id is not None
    polls = 0
    running_at: datetime | None = None  # the last poll that saw the job running

    def observe(state: BulkReadJob) -> None:
        nonlocal polls, running_at
        polls += 1
        if not state.state.finished:
            running_at = utcnow()
        if on_poll is not None:
            on_poll(job, state.raw_state, polls)

    with _created_here_lock:
        created_here = job.job_id in _created_here
    if rt.callbacks is not None:  # Zoho says when the job ends; polls only if it never does
        rt.callbacks.wait_for(job.job_id, rt.settings.callback_fallback_s)
    try:  # each poll is reserved before it is sent: the budget may stop a run here
        with charged_to_page(job):
            live = None
            if created_here and rt.callbacks is None and job.created_at is not None:
                live = wait_on_schedule(rt, extract, job, observe)  # engine.poll_schedule
            if live is None:
                live = rt.client(extract.product).bulk_read.wait(job.job_id, on_poll=observe)
        ended_at = rt.callbacks.ended_at(job.job_id) if rt.callbacks is not None else None
        return live, job_seconds(job, created_here, running_at, ended_at)
    finally:
        outcome.polls += polls


def job_seconds(
    job: JobRecord,
    created_here: bool,
    running_at: datetime | None,
    ended_at: datetime | None = None,
) -> float | None:
    """The seconds Zoho took, estimated as the module docstring says (``ended_at``: when
    its callback came, its end); None when unknown (a job of an earlier process that no
    poll saw running: it may have ended during the downtime)."""
    if job.created_at is None or not (created_here or running_at is not None):
        return None
    if ended_at is None:
        ended_after = running_at if running_at is not None else job.created_at
        ended_at = ended_after + (utcnow() - ended_after) / 2
    return max((ended_at - job.created_at).total_seconds(), 0.0)
