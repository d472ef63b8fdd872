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
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob, BulkReadQuery
from connectors.bulk_read_job import JobState as ZohoJobState
from connectors.errors import BulkJobFailedError, NotFoundError, OutcomeUnknownError, RetriableError
from connectors.paginators import BulkReadPaginator
from connectors.products import BulkPaging
from engine.budget import BULK_READ_CREATE, PLAIN_CALL
from engine.cancel import cancellable_sleep
from engine.errors import BudgetExceededError, PageFailedError, PageNotLoadedError
from engine.failpoints import failpoint, kill_when_file_appears
from engine.lake import commit_page as commit_to_lake
from engine.ledger import ExtractRecord, JobRecord, JobState, Watermark, to_naive_utc, utcnow
from engine.planning import ResumeAction, resume_action
from engine.progress import page_done
from engine.steps import BulkPageStep, Driver
from engine.summary import LoadOutcome, PageOutcome
from transforms.errors import DamagedZipError

if TYPE_CHECKING:
    from connectors.fields import FieldSpec
    from engine.callbacks import CallbackReceiver
    from engine.runtime import Runtime
    from transforms import PageLoadResult

log = logging.getLogger("engine.pages")
#: downloads of one page repeated in one run because the load found the file damaged
MAX_REDOWNLOADS = 2
#: the longest wait before a job's first poll, whatever the estimate says
MAX_FIRST_POLL_DELAY = 600.0

#: Zoho ids of the bulk jobs this process created (their end is watched from creation on);
#: a job of an earlier process is polled at once when a run resumes.
_created_here: set[str] = set()
_created_here_lock = threading.Lock()


class ReplanExtract(Exception):
    """The page chain cannot continue (its page token expired): start the extract again."""

    def __init__(self, job_key: str, reason: str) -> None:
        self.job_key = job_key
        self.reason = reason
        super().__init__(f"{job_key}: {reason}; the extract is planned again from page 1")


PollObserver = Callable[[JobRecord, str, int], None]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """Bring one page to ``loaded`` (or ``split``), continuing from its ledger state."""
    ledger = rt.ledger
    job = ledger.get_job(job_key)
    outcome = PageOutcome(job=job)
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
            job = _replan(rt, extract, job, decision.reason)
            live = None
            continue
        if action is ResumeAction.CREATE:
            live = _create_job(rt, extract, job)
            job = ledger.mark_created(job.job_key, live.id, credits=create_credits(live))
            outcome.created_job = True
            outcome.jobs_created += 1
            outcome.credits += create_credits(live)
            failpoint("job-created", module, page)
            continue
        if action is ResumeAction.WAIT:
            assert job.job_id is not None
            try:
                live, watched = _wait(rt, extract, job, outcome, on_poll)
            except NotFoundError:
                job = _replan(rt, extract, job, f"Zoho no longer knows job {job.job_id}")
                continue
            except BulkJobFailedError as exc:
                reason = f"{exc.code}: {exc.message}"
                ledger.mark_failed(job.job_key, reason)
                raise PageFailedError(module, page, exc.job_id, reason) from exc
            result = live.result
            assert result is not None
            took = None
            if watched and job.created_at is not None:
                took = max((utcnow() - job.created_at).total_seconds(), 0.0)
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
                _create_next_job(rt, extract, job, outcome)
            continue
        if action is ResumeAction.DOWNLOAD:
            assert job.job_id is not None
            try:
                live, zip_path, sha, size = _download(rt, extract, job, live, outcome)
            except NotFoundError:
                job = _replan(rt, extract, job, f"result of job {job.job_id} is gone")
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


def next_page_query(job: JobRecord, paging: BulkPaging) -> BulkReadQuery:
    """The query of the page after ``job``'s (the ledger row is the paginator's state)."""
    paginator = BulkReadPaginator(paging)
    paginator.update_state(job)
    return paginator.update_request(BulkReadQuery.from_state(job.query))


def _create_job(rt: Runtime, extract: ExtractRecord, job: JobRecord) -> BulkReadJob:
    """Spend the job's 50 credits from the budget, then create it (refunded if it fails)."""
    what = f"bulk-read create {extract.product} {extract.module} page {job.page}"
    rt.budget.spend(BULK_READ_CREATE, what, job.job_key)
    query = BulkReadQuery.from_state(job.query)
    try:
        if rt.callbacks is None:
            live = rt.client(extract.product).bulk_read.create_job(query)
        else:
            live = _create_or_adopt(rt, extract, rt.callbacks, query)
    except OutcomeUnknownError as exc:
        # every unanswered send may have created a job in Zoho: spent, not refunded
        lost = BULK_READ_CREATE * (exc.attempts - 1)
        if lost:
            rt.ledger.record_spend(rt.org, lost, f"{what}: unanswered sends", job.job_key)
        raise
    except Exception:
        rt.ledger.record_spend(rt.org, -BULK_READ_CREATE, f"refund: {what} failed", job.job_key)
        raise
    if live.unanswered_creates:  # sent again after lost answers (connectors.bulk_read)
        lost = BULK_READ_CREATE * live.unanswered_creates
        rt.ledger.record_spend(rt.org, lost, f"{what}: unanswered sends", job.job_key)
    with _created_here_lock:
        _created_here.add(live.id)
    if rt.callbacks is not None:
        rt.callbacks.expect(live.id)
    return live


def _create_or_adopt(
    rt: Runtime, extract: ExtractRecord, callbacks: CallbackReceiver, query: BulkReadQuery
) -> BulkReadJob:
    """Create the job with a callback address of its own; when the create's answer is
    lost, the callback to that address names the job Zoho made, which is adopted instead of
    creating a second one (see ``engine.callbacks``). No callback within
    ``callback_fallback_s``: Zoho most likely made no job, and the create is sent again
    (that lost send is counted as spent, the conservative side)."""
    client = rt.client(extract.product).bulk_read
    token, url = callbacks.new_address()
    try:
        return client.create_job(query, callback_url=url, resend_lost=False)
    except OutcomeUnknownError:
        wait = rt.settings.callback_fallback_s
        log.warning(
            "%s page %d: the create call's answer was lost; waiting up to %.0f s for Zoho's "
            "callback to name the job",
            extract.module,
            query.page,
            wait,
        )
        job_id = callbacks.job_for(token, wait)
    if job_id is not None:
        log.info(
            "%s page %d: adopted job %s, named by its callback", extract.module, query.page, job_id
        )
        return BulkReadJob(id=job_id, state=ZohoJobState.ADDED, raw_state="ADDED")
    live = client.create_job(query, callback_url=callbacks.new_address()[1])
    return replace(live, unanswered_creates=live.unanswered_creates + 1)


def create_credits(live: BulkReadJob) -> int:
    """Credits a create spent: its own 50 and 50 for each earlier send whose answer was lost
    (each may have created an orphan job in Zoho, see ``BulkReadClient.create_job``)."""
    return BULK_READ_CREATE * (1 + live.unanswered_creates)


def _create_next_job(
    rt: Runtime, extract: ExtractRecord, job: JobRecord, outcome: PageOutcome
) -> None:
    """Create the next page's job now (ledger first), so it runs while this page loads.

    Anything that stops it (the budget, a throttled call) is left to the next page's own
    step, which will try again and report the error there.
    """
    client = rt.client(extract.product)
    query = next_page_query(job, client.product.bulk_paging)
    nxt = rt.ledger.plan_page(
        extract, query.page, page_token=query.page_token, query=query.to_state()
    )
    if nxt.state is not JobState.PLANNED:
        return
    try:
        live = _create_job(rt, extract, nxt)
    except (BudgetExceededError, RetriableError) as exc:
        log.info("not creating page %d ahead: %s", nxt.page, exc)
        return
    rt.ledger.mark_created(nxt.job_key, live.id, credits=create_credits(live))
    outcome.jobs_created += 1
    outcome.credits += create_credits(live)
    failpoint("job-created", extract.module, nxt.page)


def _replan(rt: Runtime, extract: ExtractRecord, job: JobRecord, reason: str) -> JobRecord:
    """A new attempt at ``job``'s page; the old row stays in the ledger.

    A failed job keeps its page token (a valid token can create another job); an expired
    one that carried a token means the chain is too old: the extract starts again.
    """
    log.warning("%s: %s; planning the page again", job.job_key, reason)
    if job.state is not JobState.FAILED:
        rt.ledger.mark_expired(job.job_key, reason)
        if job.page_token:
            raise ReplanExtract(job.job_key, reason)
        return rt.ledger.plan_page(extract, job.page, page_token=None, query=job.query)
    return rt.ledger.plan_page(extract, job.page, page_token=job.page_token, query=job.query)


def _wait(
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
    try:
        live = rt.client(extract.product).bulk_read.wait(job.job_id, on_poll=observe)
        return live, created_here or saw_running
    finally:
        if polls:
            what = f"bulk-read status {extract.module} page {job.page} x{polls}"
            rt.ledger.record_spend(rt.org, polls * PLAIN_CALL, what, job.job_key)
            rt.ledger.add_job_credits(job.job_key, polls * PLAIN_CALL)
            outcome.credits += polls * PLAIN_CALL
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


def _download(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    live: BulkReadJob | None,
    outcome: PageOutcome,
) -> tuple[BulkReadJob, Path, str, int]:
    assert job.job_id is not None
    client = rt.client(extract.product)
    spent = 0
    if live is None or live.result is None:
        live = client.bulk_read.reattach(job.job_id)  # after a crash: fetch the result again
        spent += PLAIN_CALL
    dest = rt.settings.downloads_dir / extract.product / extract.module
    target = dest / f"{job.job_id}.zip"
    partial = target.with_name(target.name + ".part")
    kill_when_file_appears("download", extract.module, job.page, lambda: [partial, target])
    rt.downloads.acquire()
    try:
        page = client.bulk_read.download(live, dest)
        spent += PLAIN_CALL
    finally:
        if spent:
            what = f"bulk-read download {extract.module} page {job.page}"
            rt.ledger.record_spend(rt.org, spent, what, job.job_key)
            rt.ledger.add_job_credits(job.job_key, spent)
            outcome.credits += spent
    failpoint("download", extract.module, job.page)
    return live, page.zip_path, page.zip_sha256, page.zip_size


def load_downloaded_page(
    rt: Runtime,
    extract: ExtractRecord,
    job: JobRecord,
    path: Path,
    fields: tuple[FieldSpec, ...],
    outcome: PageOutcome,
) -> PageOutcome:
    """Load a downloaded page (a bulk result or a REST delta in the same zip form), record
    its newest records for the watermark, and mark it loaded."""
    from transforms import LoadHooks, load_page

    assert job.job_id is not None
    settings = rt.settings
    extracted_at = (job.completed_at or job.planned_at).replace(tzinfo=UTC)
    # The "load" crash point fires inside the merge transaction: a kill there is a kill
    # in the middle of the warehouse load.
    hooks = LoadHooks(inside_merge=lambda: failpoint("load", extract.module, job.page))
    with rt.load_lock:
        result: PageLoadResult = load_page(
            path,
            fields,
            product=extract.product,
            module=extract.module,
            job_id=job.job_id,
            extracted_at=extracted_at,
            parquet_root=settings.parquet_root,
            warehouse=rt.warehouse,
            drift_policy=settings.drift_policy,
            rejects_root=settings.rejects_root,
            hooks=hooks,
        )
        # into the lake before the ledger says loaded: a re-run then completes it (engine.lake)
        _, kept = commit_to_lake(rt, extract, job, result.parquet_files)
    newest = None
    if result.newest_modified is not None:
        newest = Watermark(to_naive_utc(result.newest_modified), result.newest_ids)
    rt.ledger.record_page_newest(job.job_key, newest)
    outcome.job = rt.ledger.mark_loaded(
        job.job_key,
        rows_read=result.rows_read,
        rows_loaded=result.rows_loaded,
        rows_rejected=result.rows_rejected,
    )
    outcome.load = LoadOutcome.from_result(result)
    outcome.parquet_files = [str(p) for p in kept]
    return outcome


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
