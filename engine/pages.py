"""One bulk-read page, driven by the job ledger: create -> wait -> download -> load.

``run_bulk_page`` looks at the page's ledger row and continues from where it stands, so a run
killed at any step and started again:

- re-attaches to a created job (never creates another while it is valid) and polls it at
  once: a resumed job's state is asked before any wait, and a job that ended while no
  process watched it leaves no job time (the downtime is not Zoho's; estimates skip it),
- re-downloads a completed result, or reuses a downloaded file whose sha256 still matches,
- downloads a page again when its load finds the file damaged (the download checks the
  zip's structure; the CRC is checked by the load, which reads every byte anyway),
- never loads a page marked loaded, and re-loads (idempotently) one that was not marked,
- re-plans a job whose result (1 day) or page token (24 h) expired, instead of crashing,
- never counts a page whose job ended FAILURE as loaded: the run fails naming Zoho's reason
  (``PageFailedError``), and the next run reads the page with a new job (both stay in the
  ledger).

``bulk_extract_steps`` walks the pages of one extract (``more_records`` / ``next_page_token``
for CRM, ``page`` for Recruit) as a driver of ``engine.steps``: it yields one step per page,
which the caller runs (in this thread, or as a Prefect task named ``bulk-read {module} page
{n}``).

The parts: creating and re-planning jobs in ``engine.page_jobs``, the wait and its poll
schedule in ``engine.page_wait``, download and load in ``engine.page_load``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob, BulkReadQuery
from connectors.errors import BulkJobFailedError, NotFoundError
from engine import page_wait
from engine.credit_ledger import charged_to_page
from engine.errors import PageFailedError, PageNotLoadedError
from engine.failpoints import failpoint
from engine.ledger import ExtractRecord, JobState, utcnow
from engine.page_jobs import (
    ReplanExtract,
    create_job,
    create_next_job,
    next_page_query,
    replan,
)
from engine.page_load import download_page, load_downloaded_page, sha256_of
from engine.page_wait import PollObserver
from engine.planning import ResumeAction, resume_action
from engine.progress import page_done
from engine.steps import BulkPageStep, Driver
from engine.summary import PageOutcome
from transforms.errors import DamagedZipError

if TYPE_CHECKING:
    from connectors.fields import FieldSpec
    from engine.runtime import Runtime

__all__ = ["PollObserver", "ReplanExtract", "bulk_extract_steps", "run_bulk_page"]

log = logging.getLogger("engine.pages")
#: downloads of one page repeated in one run because the load found the file damaged
MAX_REDOWNLOADS = 2


def run_bulk_page(
    rt: Runtime,
    extract: ExtractRecord,
    job_key: str,
    fields: tuple[FieldSpec, ...],
    *,
    allow_split: bool = False,
    token_issued_at: datetime | None = None,
    on_poll: PollObserver | None = None,
) -> PageOutcome:
    """Bring one page to ``loaded`` (or ``split``), continuing from its ledger state.

    ``PageOutcome.credits`` is what the credit meter charged to this step's calls (this
    page's jobs and the next page's job created ahead; ``engine.credit_ledger``).
    """
    job = rt.ledger.get_job(job_key)
    outcome = PageOutcome(job=job)
    with charged_to_page(job) as charge:
        try:
            return _advance_page(
                rt, extract, outcome, fields, allow_split, token_issued_at, on_poll
            )
        finally:
            outcome.credits = charge.credits


def _advance_page(
    rt: Runtime,
    extract: ExtractRecord,
    outcome: PageOutcome,
    fields: tuple[FieldSpec, ...],
    allow_split: bool,
    token_issued_at: datetime | None,
    on_poll: PollObserver | None,
) -> PageOutcome:
    ledger = rt.ledger
    job = outcome.job
    live: BulkReadJob | None = None
    module, page = extract.module, job.page
    redownloads = 0
    downloaded_now = False
    if job.page_token and token_issued_at is None:
        previous = [j for j in ledger.jobs_for_extract(extract.extract_id) if j.page == page - 1]
        token_issued_at = previous[-1].completed_at if previous else None
    while True:
        decision = resume_action(job, utcnow(), token_issued_at=token_issued_at)
        action = decision.action
        if action is ResumeAction.SKIP:
            outcome.job = job
            return outcome
        if action is ResumeAction.REPLAN:
            job = replan(rt, extract, job, decision.reason)
            live = None
            continue
        if action is ResumeAction.CREATE:
            live = create_job(rt, extract, job)
            job = ledger.mark_created(job.job_key, live.id)
            outcome.created_job = True
            outcome.jobs_created += 1
            failpoint("job-created", module, page)
            continue
        if action is ResumeAction.WAIT:
            assert job.job_id is not None
            try:
                live, took = page_wait.wait_for_job(rt, extract, job, outcome, on_poll)
            except NotFoundError:
                job = replan(rt, extract, job, f"Zoho no longer knows job {job.job_id}")
                continue
            except BulkJobFailedError as exc:
                reason = f"{exc.code}: {exc.message}"
                ledger.mark_failed(job.job_key, reason)
                raise PageFailedError(module, page, exc.job_id, reason) from exc
            result = live.result
            assert result is not None
            job = ledger.mark_completed(
                job.job_key,
                record_count=result.count,
                per_page=result.per_page,
                more_records=result.more_records,
                next_page_token=result.next_page_token,
                job_seconds=took,
            )
            if allow_split and result.more_records:
                job = ledger.mark_split(
                    job.job_key,
                    f"{result.count} records on page 1 and more_records: window split",
                )
                outcome.split = True
                outcome.job = job
                return outcome
            if result.more_records:
                # Zoho works on page N+1 while this page downloads and loads.
                create_next_job(rt, extract, job, outcome)
            continue
        if action is ResumeAction.DOWNLOAD:
            assert job.job_id is not None
            try:
                live, zip_path, sha, size = download_page(rt, extract, job, live)
            except NotFoundError:
                job = replan(rt, extract, job, f"result of job {job.job_id} is gone")
                live = None
                continue
            job = ledger.mark_downloaded(job.job_key, path=str(zip_path), sha256=sha, size=size)
            downloaded_now = True
            continue
        # VERIFY: reuse the downloaded file if it is intact (a file downloaded by this step
        # was hashed as it streamed in), then load it.
        path = Path(job.file_path) if job.file_path else None
        if (
            path is None
            or not path.exists()
            or not (downloaded_now or sha256_of(path) == job.sha256)
        ):
            log.warning("%s: downloaded file missing or changed; downloading again", job.job_key)
            job = ledger.mark_download_invalid(job.job_key, "file missing or checksum differs")
            continue
        if not outcome.created_job and live is None:
            outcome.reused_download = True
        try:
            return load_downloaded_page(rt, extract, job, path, fields, outcome)
        except DamagedZipError as exc:
            # the download was checked for structure only (the load checks the CRC): the
            # load changed nothing, so download the page again, a bounded number of times
            if redownloads >= MAX_REDOWNLOADS:
                raise
            redownloads += 1
            log.warning("%s: %s; downloading again", job.job_key, exc)
            job = ledger.mark_download_invalid(job.job_key, f"damaged zip ({exc.reason})")
            downloaded_now = False


def bulk_extract_steps(
    rt: Runtime, extract: ExtractRecord, *, allow_split: bool = False
) -> Driver[list[PageOutcome]]:
    """Every page of ``extract``, one ``BulkPageStep`` each (a step runs ``run_bulk_page``)."""
    ledger = rt.ledger
    paging = rt.client(extract.product).product.bulk_paging
    query = BulkReadQuery.from_state(extract.query)
    state, token = query.to_state(), query.page_token
    outcomes: list[PageOutcome] = []
    page = 1
    while True:
        job = ledger.plan_page(extract, page, page_token=token, query=state)
        outcome: PageOutcome = yield BulkPageStep(extract, job, allow_split and page == 1)
        outcomes.append(outcome)
        page_done(extract, outcome)
        done = outcome.job
        if outcome.split:
            return outcomes
        if done.state is not JobState.LOADED:  # never walk past (or close on) a page not in
            raise PageNotLoadedError(
                extract.extract_id, extract.module, f"page {page} ended {done.state.value}"
            )
        if not done.more_records:
            return outcomes
        query = next_page_query(done, paging)
        state, token, page = query.to_state(), query.page_token, query.page
