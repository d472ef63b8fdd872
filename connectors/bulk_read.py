"""Bulk read (CRM v8, Recruit v2): create a job, poll it, download and verify its zip, page on.

Facts: ``shared/docs/zoho-bulk-api.md`` §1 and §3. The walk over pages is exposed as single
steps so a caller (the flows' job ledger) can record each job, page and token before and
after each one, and resume after a crash::

    job = client.create_job(query)            # or client.reattach(job_id) after a crash
    job = client.wait(job.id)                 # ADDED -> QUEUED -> IN PROGRESS -> COMPLETED
    page = client.download(job, dest_dir)     # {job_id}.zip streamed, verified (CRC, 1 CSV)
    query = client.next_query(query, job)     # None when more_records is false

``iter_pages`` chains these steps and reports each one to an optional ``BulkReadObserver``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from connectors.bulk_query import BulkReadQuery, check_field_names, criteria_from_json
from connectors.bulk_read_job import (
    BulkReadJob,
    BulkReadObserver,
    DownloadedPage,
    JobResult,
    JobState,
    PollPolicy,
)
from connectors.credits import CallType
from connectors.errors import (
    BulkJobFailedError,
    CorruptZipError,
    JobTimeoutError,
    UnexpectedResponseError,
)
from connectors.fields import FieldSpec
from connectors.http import DownloadResult, Resent, ZohoHttp, join_url
from connectors.paginators import BulkReadPaginator, next_bulk_query
from connectors.products import Product
from connectors.zipcheck import (
    DEFAULT_MAX_UNCOMPRESSED,
    VerifiedZip,
    inspect_zip,
    verify_and_extract,
    verify_zip,
)

__all__ = [
    "BulkReadClient",
    "BulkReadJob",
    "BulkReadObserver",
    "BulkReadQuery",
    "DownloadedPage",
    "JobResult",
    "JobState",
    "PollPolicy",
]

log = logging.getLogger("connectors.bulk_read")


class BulkReadClient:
    """Bulk read jobs for one org and product.

    A downloaded zip is checked before ``download`` returns: fully (``verify_zip``: CRC
    included, one inflate pass) by default; ``verify_crc=False`` checks its structure only
    (``inspect_zip``), for a caller that reads every byte anyway and gets the CRC checked
    then (``transforms``' reader raises on a damaged member; download it again).
    """

    def __init__(
        self,
        http: ZohoHttp,
        product: Product,
        base_url: Callable[[], str],
        *,
        poll: PollPolicy | None = None,
        max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
        extract_csv: bool = False,
        verify_crc: bool = True,
        fields_of: Callable[[str], Mapping[str, FieldSpec]] | None = None,
    ) -> None:
        self.http = http
        self.product = product
        self._base_url = base_url
        self.poll = poll or PollPolicy()
        self._max_uncompressed = max_uncompressed_bytes
        self._extract_csv = extract_csv
        self._verify_crc = verify_crc
        self._fields_of = fields_of

    # -- single steps -----------------------------------------------------------------

    def create_job(
        self,
        query: BulkReadQuery,
        *,
        callback_url: str | None = None,
        check_metadata: bool = False,
        resend_lost: bool = True,
    ) -> BulkReadJob:
        """Validate ``query`` client-side and create the job (costs 50 credits).

        Field names are checked before the job exists (``check_field_names``): the query's
        own list, or, for an all-fields export, every name in the module's metadata (one
        cached metadata call, 1 credit); ``check_metadata`` also checks names and criteria
        against that metadata.

        A create whose answer is lost after sending is sent again (logged). Why: Zoho
        documents no way to list bulk read jobs, so a lost job cannot be found and adopted
        here (``engine.page_jobs`` adopts it through its callback); a second job costs another
        50 credits but duplicates no data, since only the job whose id we hold is ever
        downloaded. Every such send is metered as spent (and so reaches the meter's observer).
        UNCERTAIN: a send that never reached Zoho is counted as spent all the same.
        A caller that can find a lost job by other means (its callback) passes
        ``resend_lost=False``: the create is sent once, and a lost answer raises
        ``OutcomeUnknownError``.
        """
        fields = None
        if self._fields_of is not None and query.page_token is None:
            if check_metadata or not query.fields:
                fields = self._fields_of(query.module)  # cached by the metadata client
            if not query.fields:  # every field is exported: each must be a valid name
                check_field_names(query.module, fields or {})
        query.validate(self.product, fields if check_metadata else None)
        url = self._jobs_url()
        body = query.to_body(self.product, callback_url)
        if resend_lost:
            sent = self.http.request_json_resending(
                "POST", url, call_type=CallType.BULK_READ_CREATE, json=body
            )
        else:
            payload = self.http.request_json(
                "POST", url, call_type=CallType.BULK_READ_CREATE, json=body
            )
            sent = Resent(payload=payload, unanswered=0)
        entry = _first_data(sent.payload, url)
        raw_details = entry.get("details")
        details: Mapping[str, Any] = raw_details if isinstance(raw_details, Mapping) else entry
        job = BulkReadJob.from_detail({"state": "ADDED", **details}, path=url)
        if sent.unanswered:
            log.warning(
                "bulk read create for %s: %d earlier send(s) got no answer; each may have "
                "created an orphan job (%d credits counted as spent)",
                query.module,
                sent.unanswered,
                sent.unanswered * self.product.credit_costs[CallType.BULK_READ_CREATE],
            )
        log.info(
            "created %s bulk read job %s for %s (page %s%s)",
            self.product.label,
            job.id,
            query.module,
            query.page,
            ", by page token" if query.page_token else "",
        )
        return job

    def get_job(self, job_id: str) -> BulkReadJob:
        url = f"{self._jobs_url()}/{job_id}"
        payload = self.http.request_json("GET", url, call_type=CallType.BULK_READ_STATUS)
        return BulkReadJob.from_detail(_first_data(payload, url), path=url)

    def reattach(self, job_id: str) -> BulkReadJob:
        """Pick up a job created earlier (e.g. before a crash) instead of creating one.

        Raises ``NotFoundError`` when Zoho no longer knows the job (results live one day).
        """
        job = self.get_job(job_id)
        log.info("re-attached to bulk read job %s (state %s)", job.id, job.raw_state)
        return job

    def wait(
        self, job_id: str, *, on_poll: Callable[[BulkReadJob], None] | None = None
    ) -> BulkReadJob:
        """Poll until COMPLETED (returned) or FAILURE (``BulkJobFailedError``)."""
        deadline = self.poll.clock() + self.poll.timeout
        for interval in self.poll.intervals():
            job = self.get_job(job_id)
            if on_poll is not None:
                on_poll(job)
            if job.state is JobState.COMPLETED:
                return job
            if job.state is JobState.FAILED:
                raise _failed(job, f"{self.product.bulk_read_path}/{job_id}")
            remaining = deadline - self.poll.clock()
            if remaining <= 0:
                raise JobTimeoutError(
                    f"bulk read job {job_id} still {job.raw_state} after {self.poll.timeout:.0f} s",
                    job_id=job_id,
                    path=f"{self.product.bulk_read_path}/{job_id}",
                )
            self.poll.sleep(min(interval, remaining))
        raise AssertionError("unreachable: intervals() is infinite")

    def download(
        self,
        job: BulkReadJob,
        dest_dir: Path,
        *,
        query: BulkReadQuery | None = None,
        sequence: int = 1,
    ) -> DownloadedPage:
        """Stream the job's zip to ``dest_dir/{job_id}.zip`` and verify it.

        A damaged zip (CRC, truncation) is downloaded again; an unsafe one is rejected.
        """
        if job.state is not JobState.COMPLETED or job.result is None:
            raise UnexpectedResponseError(
                f"bulk read job {job.id} is {job.raw_state or 'without a result'}; only "
                "COMPLETED jobs can be downloaded",
                path=f"{self.product.bulk_read_path}/{job.id}",
            )
        dest_dir.mkdir(parents=True, exist_ok=True)
        zip_path = dest_dir / f"{job.id}.zip"
        for attempt in self.http.retry.retrying(
            f"GET {self.product.bulk_read_path}/{job.id}/result (verify)", only=CorruptZipError
        ):
            with attempt:
                downloaded, verified = self._fetch_verified(job, zip_path)
        result = job.result
        page = DownloadedPage(
            sequence=sequence,
            job_id=job.id,
            query=query,
            page=result.page,
            record_count=result.count,
            more_records=result.more_records,
            next_page_token=result.next_page_token,
            zip_path=zip_path,
            zip_size=downloaded.size,
            zip_sha256=downloaded.sha256,
            csv_member=verified.member_name,
            csv_size=verified.csv_size,
            csv_sha256=verified.csv_sha256,
            csv_path=verified.csv_path,
        )
        log.info(
            "downloaded bulk read job %s: page %d, %d records, %d bytes zipped",
            job.id,
            page.page,
            page.record_count,
            page.zip_size,
        )
        return page

    def _fetch_verified(
        self, job: BulkReadJob, zip_path: Path
    ) -> tuple[DownloadResult, VerifiedZip]:
        """One download + verification; an unverifiable zip is deleted, never left behind."""
        downloaded = self.http.download_to(
            self._download_url(job), zip_path, call_type=CallType.BULK_READ_DOWNLOAD
        )
        try:
            if self._extract_csv:
                verified = verify_and_extract(
                    zip_path,
                    zip_path.parent,
                    max_uncompressed_bytes=self._max_uncompressed,
                    target_name=f"{job.id}.csv",
                )
            elif self._verify_crc:
                verified = verify_zip(zip_path, max_uncompressed_bytes=self._max_uncompressed)
            else:  # the caller reads every byte and checks the CRC then (see __init__)
                verified = inspect_zip(zip_path, max_uncompressed_bytes=self._max_uncompressed)
        except BaseException:
            zip_path.unlink(missing_ok=True)
            raise
        return downloaded, verified

    def next_query(self, query: BulkReadQuery, job: BulkReadJob) -> BulkReadQuery | None:
        """The query for the page after ``job``'s, or None when there are no more records."""
        return next_bulk_query(query, job.result, self.product.bulk_paging)

    # -- the whole walk ----------------------------------------------------------------

    def iter_pages(
        self,
        query: BulkReadQuery,
        dest_dir: Path,
        *,
        resume_job_id: str | None = None,
        observer: BulkReadObserver | None = None,
        max_pages: int | None = None,
        check_metadata: bool = False,
    ) -> Iterator[DownloadedPage]:
        """Every page of the export, in order. ``resume_job_id`` re-attaches the first one."""
        obs = observer or BulkReadObserver()
        paginator = BulkReadPaginator(self.product.bulk_paging, query.page, query.page_token)
        current = query
        job_id = resume_job_id
        sequence = 0
        while paginator.has_next_page and (max_pages is None or sequence < max_pages):
            sequence += 1
            if job_id is not None:
                job = self.reattach(job_id)
                obs.job_reattached(current, job)
            else:
                job = self.create_job(current, check_metadata=check_metadata)
                obs.job_created(current, job)
            if job.state is not JobState.COMPLETED:
                job = self.wait(job.id)
            obs.job_completed(current, job)
            page = self.download(job, dest_dir, query=current, sequence=sequence)
            obs.page_downloaded(page)
            yield page
            if job.result is None:
                return
            paginator.update_state(job.result)
            current = paginator.update_request(current)
            job_id = None

    def export(self, query: BulkReadQuery, dest_dir: Path, **kw: Any) -> Sequence[DownloadedPage]:
        """``list(iter_pages(...))``."""
        return list(self.iter_pages(query, dest_dir, **kw))

    # -- helpers -----------------------------------------------------------------------

    def _jobs_url(self) -> str:
        return self._base_url() + self.product.bulk_read_path

    def _download_url(self, job: BulkReadJob) -> str:
        """Zoho's ``download_url`` (relative, under the API base); an absolute one is kept
        as given and the HTTP core refuses it unless it names one of the org's hosts."""
        url = (job.result.download_url if job.result else None) or (
            f"{self.product.bulk_read_path}/{job.id}/result"
        )
        return join_url(self._base_url(), url)


def _first_data(payload: Any, url: str) -> Mapping[str, Any]:
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    if isinstance(payload, Mapping) and "id" in payload:
        return payload  # tolerate an unwrapped answer
    raise UnexpectedResponseError("expected a 'data' list with one job", method="GET", path=url)


def _failed(job: BulkReadJob, path: str) -> BulkJobFailedError:
    err = job.error or {}
    code = str(err.get("code") or "FAILURE")
    message = str(err.get("message") or "no error message")
    details = err.get("details") if isinstance(err.get("details"), Mapping) else {}
    return BulkJobFailedError(
        f"bulk read job {job.id} failed: {message}",
        job_id=job.id,
        code=code,
        details=details,
        path=path,
    )


__all__ = [
    "BulkReadClient",
    "BulkReadJob",
    "BulkReadObserver",
    "BulkReadQuery",
    "DownloadedPage",
    "JobResult",
    "JobState",
    "PollPolicy",
    "criteria_from_json",
]
