"""Bulk-read jobs of a page: create one, create the next page's ahead, and plan a page again
when its job, result or page token is gone.

A create's 50 credits are reserved by the client's credit meter before it is sent (the
budget may refuse it: nothing is sent) and charged to the page's ledger job
(``engine.credit_ledger``), each send whose answer was lost included.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from connectors.bulk_read import BulkReadJob, BulkReadQuery
from connectors.bulk_read_job import JobState as ZohoJobState
from connectors.errors import OutcomeUnknownError, RetriableError
from connectors.paginators import BulkReadPaginator
from connectors.products import BulkPaging
from engine.credit_ledger import charged_to_page
from engine.errors import BudgetExceededError
from engine.failpoints import failpoint
from engine.ledger import ExtractRecord, JobRecord, JobState
from engine.page_wait import remember_created
from engine.summary import PageOutcome

if TYPE_CHECKING:
    from engine.callbacks import CallbackReceiver
    from engine.runtime import Runtime

log = logging.getLogger("engine.page_jobs")


class ReplanExtract(Exception):
    """The page chain cannot continue (its page token expired): start the extract again."""

    def __init__(self, job_key: str, reason: str) -> None:
        self.job_key = job_key
        self.reason = reason
        super().__init__(f"{job_key}: {reason}; the extract is planned again from page 1")


def next_page_query(job: JobRecord, paging: BulkPaging) -> BulkReadQuery:
    """The query of the page after ``job``'s (the ledger row is the paginator's state)."""
    paginator = BulkReadPaginator(paging)
    paginator.update_state(job)
    return paginator.update_request(BulkReadQuery.from_state(job.query))


def create_job(rt: Runtime, extract: ExtractRecord, job: JobRecord) -> BulkReadJob:
    """Create the page's job (its credits are reserved, then charged to ``job``)."""
    query = BulkReadQuery.from_state(job.query)
    with charged_to_page(job):
        if rt.callbacks is None:
            live = rt.client(extract.product).bulk_read.create_job(query)
        else:
            live = _create_or_adopt(rt, extract, rt.callbacks, query)
    remember_created(live.id)
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
    (the meter counted that lost send as spent, the conservative side)."""
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
    return client.create_job(query, callback_url=callbacks.new_address()[1])


def create_next_job(
    rt: Runtime, extract: ExtractRecord, job: JobRecord, outcome: PageOutcome
) -> None:
    """Create the next page's job now (ledger first), so it runs while this page loads.

    Anything that stops it (the budget, a throttled call) is left to the next page's own
    step, which will try again and report the error there. Its credits are the next page's
    (and, through the enclosing ``charged_to`` scope, this step's).
    """
    client = rt.client(extract.product)
    query = next_page_query(job, client.product.bulk_paging)
    nxt = rt.ledger.plan_page(
        extract, query.page, page_token=query.page_token, query=query.to_state()
    )
    if nxt.state is not JobState.PLANNED:
        return
    try:
        live = create_job(rt, extract, nxt)
    except (BudgetExceededError, RetriableError) as exc:
        log.info("not creating page %d ahead: %s", nxt.page, exc)
        return
    rt.ledger.mark_created(nxt.job_key, live.id)
    outcome.jobs_created += 1
    failpoint("job-created", extract.module, nxt.page)


def replan(rt: Runtime, extract: ExtractRecord, job: JobRecord, reason: str) -> JobRecord:
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
