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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from connectors.bulk_query import BulkReadQuery, check_field_names, criteria_from_json
from connectors.credits import CallType
from connectors.errors import (
    BulkJobFailedError,
    CorruptZipError,
    JobTimeoutError,
    UnexpectedResponseError,
)
from connectors.fields import FieldSpec
from connectors.http import DownloadResult, ZohoHttp, join_url
from connectors.paginators import BulkReadPaginator, next_bulk_query
from connectors.products import Product
from connectors.zipcheck import (
    DEFAULT_MAX_UNCOMPRESSED,
    VerifiedZip,
    inspect_zip,
    verify_and_extract,
    verify_zip,
)

log = logging.getLogger("connectors.bulk_read")


class JobState(StrEnum):
    """Bulk job states, whatever spelling Zoho used (``IN PROGRESS``/``INPROGRESS``...)."""

    ADDED = "ADDED"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILURE"

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED)

    @classmethod
    def parse(cls, raw: object) -> JobState:
        """Accept every documented spelling; unknown states count as still running."""
        text = str(raw or "").strip().upper().replace("_", " ")
        compact = text.replace(" ", "")
        spellings = {
            "ADDED": cls.ADDED,
            "QUEUED": cls.QUEUED,
            "INPROGRESS": cls.IN_PROGRESS,
            "RUNNING": cls.IN_PROGRESS,
            "COMPLETED": cls.COMPLETED,
            "COMPLETE": cls.COMPLETED,
            "FAILURE": cls.FAILED,
            "FAILED": cls.FAILED,
        }
        state = spellings.get(compact)
        if state is None:
            log.warning("unknown bulk job state %r; treating it as in progress", raw)
            return cls.IN_PROGRESS
        return state


@dataclass(frozen=True)
class JobResult:
    """``result`` of a COMPLETED bulk read job."""

    page: int
    count: int
    more_records: bool
    download_url: str | None
    next_page_token: str | None = None
    per_page: int | None = None


@dataclass(frozen=True)
class BulkReadJob:
    """A bulk read job as Zoho last reported it."""

    id: str
    state: JobState
    raw_state: str
    result: JobResult | None = None
    error: Mapping[str, Any] | None = None
    created_time: str | None = None
    #: create calls sent before this job's whose answer was lost: each may have created an
    #: orphan job (50 credits spent, no data of ours in it); see ``BulkReadClient.create_job``
    unanswered_creates: int = 0

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any], *, path: str) -> BulkReadJob:
        job_id = detail.get("id")
        if job_id is None:
            raise UnexpectedResponseError("bulk read job without an id", path=path)
        raw_state = str(detail.get("state") or "")
        state = JobState.parse(raw_state)
        raw_result = detail.get("result")
        result: JobResult | None = None
        error: Mapping[str, Any] | None = None
        if isinstance(raw_result, Mapping):
            err = raw_result.get("error_message")
            if err is not None:
                error = err if isinstance(err, Mapping) else {"message": str(err)}
            if "download_url" in raw_result or "more_records" in raw_result:
                result = JobResult(
                    page=int(raw_result.get("page") or 1),
                    count=int(raw_result.get("count") or 0),
                    more_records=_as_bool(raw_result.get("more_records")),
                    download_url=raw_result.get("download_url"),
                    next_page_token=raw_result.get("next_page_token") or None,
                    per_page=_optional_int(raw_result.get("per_page")),
                )
        return cls(
            id=str(job_id),
            state=state,
            raw_state=raw_state,
            result=result,
            error=error,
            created_time=detail.get("created_time"),
        )


@dataclass(frozen=True)
class PollPolicy:
    """Poll interval grows from ``initial`` by ``factor`` up to ``max_interval``."""

    initial: float = 1.0
    factor: float = 1.5
    max_interval: float = 30.0
    timeout: float = 6 * 3600.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.max_interval < self.initial:
            raise ValueError(f"invalid poll policy {self}")

    def intervals(self) -> Iterator[float]:
        interval = self.initial
        while True:
            yield interval
            interval = min(interval * self.factor, self.max_interval)


@dataclass(frozen=True)
class DownloadedPage:
    """One verified page of an export, as written to disk."""

    sequence: int
    job_id: str
    #: the query that created the job (None when the caller did not pass it to ``download``)
    query: BulkReadQuery | None
    page: int
    record_count: int
    more_records: bool
    next_page_token: str | None
    zip_path: Path
    zip_size: int
    zip_sha256: str
    csv_member: str
    #: the CSV's size and digest; with ``verify_crc=False`` its declared size and None
    csv_size: int
    csv_sha256: str | None
    csv_path: Path | None


class BulkReadObserver:
    """Hooks called around each step of ``iter_pages`` (subclass; all default to no-ops)."""

    def job_created(self, query: BulkReadQuery, job: BulkReadJob) -> None:
        """The job exists in Zoho (record ``job.id`` before waiting)."""

    def job_reattached(self, query: BulkReadQuery, job: BulkReadJob) -> None:
        """An existing job was picked up by id instead of creating a new one."""

    def job_completed(self, query: BulkReadQuery, job: BulkReadJob) -> None:
        """The job reached COMPLETED; ``job.result`` holds count and next token."""

    def page_downloaded(self, page: DownloadedPage) -> None:
        """The zip is on disk and verified."""


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
    ) -> BulkReadJob:
        """Validate ``query`` client-side and create the job (costs 50 credits).

        Field names are checked before the job exists (``check_field_names``): the query's
        own list, or, for an all-fields export, every name in the module's metadata (one
        cached metadata call, 1 credit); ``check_metadata`` also checks names and criteria
        against that metadata.

        A create whose answer is lost after sending is sent again (``unanswered_creates``
        on the returned job counts such sends). Why: Zoho documents no way to list bulk
        read jobs, so a lost job cannot be found and adopted; a second job costs another
        50 credits but duplicates no data, since only the job whose id we hold is ever
        downloaded. Every such send is metered as spent, and the caller charges it too.
        UNCERTAIN: a send that never reached Zoho is counted as spent all the same.
        """
        fields = None
        if self._fields_of is not None and query.page_token is None:
            if check_metadata or not query.fields:
                fields = self._fields_of(query.module)  # cached by the metadata client
            if not query.fields:  # every field is exported: each must be a valid name
                check_field_names(query.module, fields or {})
        query.validate(self.product, fields if check_metadata else None)
        url = self._jobs_url()
        sent = self.http.request_json_resending(
            "POST",
            url,
            call_type=CallType.BULK_READ_CREATE,
            json=query.to_body(self.product, callback_url),
        )
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
            job = replace(job, unanswered_creates=sent.unanswered)
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


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _optional_int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


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
