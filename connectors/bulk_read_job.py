"""What a bulk read job is, as the client sees it: its state, result, poll policy and pages.

`BulkReadJob.from_detail` parses Zoho's job detail (any spelling of the state; facts:
``shared/docs/zoho-bulk-api.md`` §1); `PollPolicy` says how long and how often to wait;
`DownloadedPage` is one verified page on disk; `BulkReadObserver` is the hook set
`connectors.bulk_read.BulkReadClient.iter_pages` reports each step to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from connectors.bulk_query import BulkReadQuery
from connectors.errors import UnexpectedResponseError

#: the client's logger: a warning about a job reads as the bulk read client's
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


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _optional_int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
