"""Pure planning decisions of the flows: no I/O, no Prefect, easy to test.

- ``incremental_since``: where an incremental read starts (watermark minus an overlap);
- ``choose_method``: REST Get Records or a bulk read, from estimated credit costs, with the
  reason recorded in the ledger;
- ``backfill_windows`` / ``split_window``: date windows for a backfill;
- ``resume_action``: what a re-run does with each ledger job (re-attach, re-download, reuse the
  file, skip, or re-plan a job that failed or whose page token or result expired);
- ``estimate_run_credits``: what a run needs before it starts (for the credit budget).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from connectors.credits import CRM_COSTS, CallType
from engine.errors import BadDateRangeError
from engine.ledger import JobRecord, JobState, Watermark, to_naive_utc

#: Zoho keeps a bulk-read result for one day and a page token for 24 hours (§1.9).
RESULT_LIFETIME = timedelta(days=1)
PAGE_TOKEN_LIFETIME = timedelta(hours=24)
#: Leave a margin so a job does not expire between the check and the download.
EXPIRY_MARGIN = timedelta(minutes=10)

#: REST Get Records returns at most 200 records per call, 1 credit each (reference/002).
REST_PER_PAGE = 200
#: Past 2,000 records REST needs page tokens; beyond that, bulk is the documented tool.
REST_MAX_RECORDS = 2_000
#: A bulk page holds at most 200,000 records.
BULK_PER_PAGE = 200_000
#: Polls per bulk job we budget for (status calls cost 1 credit each).
POLLS_PER_JOB = 6
#: Zoho's prices the estimates use (one table: ``connectors.credits``).
BULK_READ_CREATE = CRM_COSTS[CallType.BULK_READ_CREATE]
PLAIN_CALL = CRM_COSTS[CallType.OTHER]


class Method(StrEnum):
    BULK = "bulk"
    REST = "rest"


@dataclass(frozen=True)
class MethodChoice:
    method: Method
    reason: str
    rest_credits: int | None
    bulk_credits: int


def bulk_credits(records: int) -> int:
    """Credits a bulk read of ``records`` costs: create + polls + download per page."""
    pages = max(1, math.ceil(records / BULK_PER_PAGE))
    return pages * (BULK_READ_CREATE + POLLS_PER_JOB * PLAIN_CALL + PLAIN_CALL)


def rest_credits(records: int, page_cost: int = PLAIN_CALL) -> int:
    """Credits REST Get Records costs for ``records``: ``page_cost`` per 200-record page.

    CRM charges 1 credit a page, Recruit 3 (``Product.credit_costs[CallType.GET_RECORDS]``).
    """
    return max(1, math.ceil(records / REST_PER_PAGE)) * page_cost


def choose_method(
    *,
    full: bool,
    estimated_records: int | None,
    rest_supported: bool = True,
    rest_max_records: int = REST_MAX_RECORDS,
    rest_page_cost: int = PLAIN_CALL,
) -> MethodChoice:
    """REST for small deltas, bulk for full exports and large deltas, from estimated credits.

    ``estimated_records`` is None when nothing is known (first incremental run): REST is tried
    with a cap of ``rest_max_records``; the export falls back to bulk if the delta is bigger.
    """
    if full:
        return MethodChoice(Method.BULK, "full export: bulk read", None, bulk_credits(0))
    if not rest_supported:
        return MethodChoice(
            Method.BULK,
            "REST Get Records not available for this product",
            None,
            bulk_credits(estimated_records or 0),
        )
    if estimated_records is None:
        return MethodChoice(
            Method.REST,
            f"no delta estimate yet: REST probe, switching to bulk past {rest_max_records} records",
            rest_credits(rest_max_records, rest_page_cost),
            bulk_credits(0),
        )
    rest = rest_credits(estimated_records, rest_page_cost)
    bulk = bulk_credits(estimated_records)
    if estimated_records > rest_max_records:
        return MethodChoice(
            Method.BULK,
            f"~{estimated_records} changed records exceed the REST limit of {rest_max_records}",
            rest,
            bulk,
        )
    if rest <= bulk:
        return MethodChoice(
            Method.REST,
            f"~{estimated_records} changed records: REST {rest} credits <= bulk {bulk}",
            rest,
            bulk,
        )
    return MethodChoice(
        Method.BULK,
        f"~{estimated_records} changed records: bulk {bulk} credits < REST {rest}",
        rest,
        bulk,
    )


def estimate_delta(
    *,
    previous_rows: int | None,
    previous_span: timedelta | None,
    since: datetime,
    now: datetime,
) -> int | None:
    """Changed records expected since ``since``, scaled from the previous incremental run."""
    if previous_rows is None or previous_span is None or previous_span.total_seconds() <= 0:
        return None
    elapsed = max((to_naive_utc(now) - to_naive_utc(since)).total_seconds(), 0.0)
    return math.ceil(previous_rows * elapsed / previous_span.total_seconds())


def incremental_since(watermark: Watermark | None, overlap: timedelta) -> datetime | None:
    """Read records modified at or after this instant (None: no watermark, do a full export).

    The overlap re-reads a little of the previous run: a record modified in the same second
    as the watermark, or committed late by Zoho, is not missed. The merge on ``id`` (newest
    ``Modified_Time`` wins) makes the re-read harmless.
    """
    if watermark is None:
        return None
    return to_naive_utc(watermark.modified_time) - overlap


def advance_watermark(
    current: Watermark | None, modified: Sequence[tuple[str, datetime]]
) -> Watermark | None:
    """The newest ``Modified_Time`` among ``(id, modified_time)`` and the ids carrying it."""
    best = current
    for record_id, when in modified:
        when = to_naive_utc(when)
        if best is None or when > best.modified_time:
            best = Watermark(when, (record_id,))
        elif when == best.modified_time and record_id not in best.ids:
            best = Watermark(best.modified_time, (*best.ids, record_id))
    return best


# ---- backfill windows ---------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Window:
    """A half-open ``[start, end)`` range of ``Modified_Time`` (naive UTC)."""

    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def label(self) -> str:
        return f"{self.start:%Y-%m-%dT%H:%M:%S}..{self.end:%Y-%m-%dT%H:%M:%S}"


MIN_WINDOW = timedelta(seconds=2)


def backfill_windows(start: datetime, end: datetime, window: timedelta) -> list[Window]:
    """Split ``[start, end)`` into consecutive windows of at most ``window``."""
    start, end = to_naive_utc(start), to_naive_utc(end)
    if end <= start:
        raise BadDateRangeError(start, end, "the end must be after the start")
    if window < MIN_WINDOW:
        raise BadDateRangeError(start, end, f"windows must be at least {MIN_WINDOW}")
    windows = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + window, end)
        windows.append(Window(cursor, nxt))
        cursor = nxt
    return windows


def split_window(window: Window) -> tuple[Window, Window] | None:
    """Two halves of a window that overflowed one bulk page, or None if it cannot shrink."""
    if window.span < 2 * MIN_WINDOW:
        return None
    middle = window.start + (window.span / 2)
    middle = middle.replace(microsecond=0)
    return Window(window.start, middle), Window(middle, window.end)


# ---- resuming from the ledger -------------------------------------------------------------


class ResumeAction(StrEnum):
    CREATE = "create"  # planned: create the bulk job
    WAIT = "wait"  # created: re-attach to the job id and poll it
    DOWNLOAD = "download"  # completed: (re-)download the result
    VERIFY = "verify"  # downloaded: check the file's checksum, reuse it
    SKIP = "skip"  # loaded / split / expired: nothing to do
    REPLAN = "replan"  # the job failed, or it or its page token is too old: plan the page again


@dataclass(frozen=True)
class Resume:
    action: ResumeAction
    reason: str


def resume_action(
    job: JobRecord, now: datetime, *, token_issued_at: datetime | None = None
) -> Resume:
    """What to do with a ledger job when a run (re)starts.

    ``token_issued_at`` is when the previous page's result (which carried this job's
    ``page_token``) completed; a token older than 24 h cannot create a job any more.
    """
    now = to_naive_utc(now)
    if job.state is JobState.FAILED:  # a failed page is never a loaded one: a new job reads it
        return Resume(ResumeAction.REPLAN, f"job {job.job_id} ended FAILURE ({job.error})")
    if job.state in {JobState.LOADED, JobState.SPLIT, JobState.EXPIRED}:
        return Resume(ResumeAction.SKIP, f"job is {job.state.value}")
    if job.state is JobState.PLANNED:
        if (
            job.page_token
            and token_issued_at is not None
            and now > token_issued_at + PAGE_TOKEN_LIFETIME - EXPIRY_MARGIN
        ):
            return Resume(ResumeAction.REPLAN, "page token older than 24 h")
        return Resume(ResumeAction.CREATE, "no job created yet")
    if job.state is JobState.CREATED:
        created = job.created_at or job.planned_at
        if now > created + RESULT_LIFETIME - EXPIRY_MARGIN:
            return Resume(ResumeAction.REPLAN, "job created more than a day ago")
        return Resume(ResumeAction.WAIT, f"re-attach to job {job.job_id}")
    completed = job.completed_at or job.created_at or job.planned_at
    result_expired = now > completed + RESULT_LIFETIME - EXPIRY_MARGIN
    if job.state is JobState.COMPLETED:
        if result_expired:
            return Resume(ResumeAction.REPLAN, "result older than a day")
        return Resume(ResumeAction.DOWNLOAD, "result not downloaded yet")
    # DOWNLOADED: reuse the verified file; if it fails verification and the result is
    # gone too, the page is planned again.
    return Resume(ResumeAction.VERIFY, "reuse the downloaded file if its checksum matches")


def estimate_run_credits(pages_per_module: Sequence[int]) -> int:
    """Credits a bulk run needs: create + polls + download for every page."""
    return sum(
        p * (BULK_READ_CREATE + POLLS_PER_JOB * PLAIN_CALL + PLAIN_CALL) for p in pages_per_module
    )
