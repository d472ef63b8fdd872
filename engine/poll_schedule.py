"""When to ask Zoho whether a bulk job is done: polls planned from how long its jobs take.

Every status call costs a credit and a page's minimum is one (the call that sees COMPLETED),
so each further poll is overhead, while a poll that comes late leaves the job's result
waiting. The module's recent watched job times (``Ledger.recent_completed_jobs``) say how
long a job takes. A job of a size like theirs is polled at evenly spaced quantiles of those
times, the last at the longest one seen (stretched by the spread a few samples miss), so a
job is seen done soon after it ends with at most ``planned_polls`` calls; only a job slower
than any before falls back to the client's backoff. A module's first job is planned from the
job times of the org's other modules (a job slower than those still ends on the backoff), so
only an org's very first job starts on it. Jobs much smaller than the others (a last page of
a few records) are left out of the sample that plans a full page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob
from connectors.bulk_read_job import JobState as BulkJobState
from engine.cancel import cancellable_sleep
from engine.ledger import ExtractRecord, JobRecord, utcnow
from engine.planning import BULK_READ_CREATE, PLAIN_CALL, POLLS_PER_JOB

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = logging.getLogger("engine.poll_schedule")

#: samples of job times that plan a job's polls
HISTORY = 20
#: a sample of one job time says little: assume Zoho's times spread this much around it
SINGLE_SAMPLE_SPREAD = 0.5
#: a page's fewest credits: create, the status call that sees it done, the download
PAGE_MINIMUM_CREDITS = BULK_READ_CREATE + 2 * PLAIN_CALL
#: the longest pause before one poll, whatever the history says
MAX_POLL_DELAY = 600.0
#: jobs of fewer records than this share of the largest recent one do not plan a full page
SIZE_SHARE = 0.5


@dataclass(frozen=True)
class JobTime:
    """One watched job: how long it took and how many records its page held."""

    seconds: float
    records: int | None = None


def planned_polls(page_minimum: int, overhead: float = 0.05) -> int:
    """Status calls planned per job: the one call every job needs plus the whole credits
    ``overhead`` of a page's minimum pays for (at most ``POLLS_PER_JOB``). A job is seen done
    at the first planned poll after it ends, so on average about half the extra is spent,
    which leaves the rest of the allowance for the module's field metadata."""
    extra = int(page_minimum * overhead)
    return max(1, min(POLLS_PER_JOB, 1 + extra))


def comparable(history: Sequence[JobTime]) -> list[float]:
    """The job times that plan a full page: those of jobs whose pages held at least
    ``SIZE_SHARE`` of the largest page among them (all, when fewer than two qualify)."""
    sizes = [h.records for h in history if h.records]
    if not sizes:
        return [h.seconds for h in history]
    largest = max(sizes)
    full = [h.seconds for h in history if h.records and h.records >= SIZE_SHARE * largest]
    return full if len(full) >= 2 else [h.seconds for h in history]


def poll_offsets(samples: Sequence[float], polls: int) -> list[float]:
    """Seconds after the job's creation to poll at: ``polls`` evenly spaced quantiles of the
    range the ``samples`` suggest; [] when there are none.

    With n samples the range is widened by (max - min) / n at each end (what n samples of
    a spread typically miss); one sample stands for +-``SINGLE_SAMPLE_SPREAD`` of itself.
    """
    ordered = sorted(s for s in samples if s >= 0)
    if not ordered or polls < 1:
        return []
    if len(ordered) == 1:
        low = ordered[0] * (1 - SINGLE_SAMPLE_SPREAD)
        high = ordered[0] * (1 + SINGLE_SAMPLE_SPREAD)
        return [low + (high - low) * j / polls for j in range(1, polls + 1)]
    margin = (ordered[-1] - ordered[0]) / len(ordered)
    stretched = [ordered[0] - margin, *ordered, ordered[-1] + margin]
    return [max(_quantile(stretched, j / polls), 0.0) for j in range(1, polls + 1)]


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the order statistics (q in [0, 1])."""
    position = q * (len(ordered) - 1)
    below = int(position)
    if below >= len(ordered) - 1:
        return ordered[-1]
    return ordered[below] + (ordered[below + 1] - ordered[below]) * (position - below)


def plan_polls(recent: Sequence[JobRecord]) -> list[float]:
    """Poll times (seconds after creation) for a job of the module whose recent jobs are
    ``recent``; only watched job times count (a job that ended while no process ran has
    none, so a resume's downtime never becomes a job time)."""
    samples = comparable(
        [JobTime(j.job_seconds, j.record_count) for j in recent if j.job_seconds is not None]
    )
    return poll_offsets(samples, planned_polls(PAGE_MINIMUM_CREDITS))


def wait_on_schedule(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    observe: Callable[[BulkReadJob], None],
) -> BulkReadJob | None:
    """Poll ``job`` (created by this process) at the planned times: the job once a poll sees
    it COMPLETED; None when it is still running after the last one (or ended in FAILURE),
    for the client's backoff to take over. Each poll goes through ``observe`` (it counts)."""
    assert job.job_id is not None
    assert job.created_at is not None
    ledger = rt.ledger
    recent = ledger.recent_completed_jobs(
        extract.org, extract.product, extract.module, limit=HISTORY
    )
    if not recent:  # the module's first job: the org's other modules say how long Zoho takes
        recent = ledger.recent_completed_jobs(extract.org, extract.product, None, limit=HISTORY)
    offsets = plan_polls(recent)
    if offsets:
        log.debug("%s: polls at %s s", job.job_key, [round(o, 1) for o in offsets])
    client = rt.client(extract.product).bulk_read
    for offset in offsets:
        pause = offset - (utcnow() - job.created_at).total_seconds()
        if pause > 0:
            cancellable_sleep(min(pause, MAX_POLL_DELAY))
        state = client.get_job(job.job_id)
        observe(state)
        if state.state is BulkJobState.COMPLETED:
            return state
        if state.state.finished:
            return None  # FAILURE: the client's wait raises it with Zoho's message
    if offsets:  # slower than planned: the backoff starts one interval after the last poll
        cancellable_sleep(rt.settings.poll_interval_s)
    return None
