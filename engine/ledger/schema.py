"""The ledger's tables, the job state machine, and the records read from its rows.

A killed flow is resumable because every step is recorded *before* the next one starts:

    planned ──create job──▶ created ──job COMPLETED──▶ completed ──zip verified──▶ downloaded
                            (job id known: never         (result kept 1 day)       (file + sha256:
                             create another while                                    reuse it)
                             it is valid)                                               │
                                                                                  load ▼
                                                                                     loaded
                                                                        (never loaded twice)
    side exits: failed (the job ended FAILURE: the page gets a new job on the next run),
                expired (page token / result too old: re-planned),
                split  (a backfill window that overflowed one page: replaced by two halves)
    A failed or expired job stays in the ledger; the page's next attempt is a new row
    (``{job_key}.rN``).

Tables (SQLAlchemy Core): in a ``zoho_etl`` schema where the dialect has schemas (PostgreSQL,
DuckDB), as ``zoho_etl_*`` prefixed tables elsewhere (SQLite):

- ``extracts``: one logical export of a module (full, incremental or one backfill window) with
  its query, the method (bulk / rest) and the reason it was chosen.
- ``jobs``: one row per page of an extract (``job_key`` = ``{extract_id}:p{page}``).
- ``watermarks``: per org/product/module, the last ``Modified_Time`` loaded and the ids at it.
- ``page_watermarks``: per loaded page, its newest ``Modified_Time`` and the ids at it (what
  the load saw; the extract's end moves the module's watermark from them).
- ``credit_spend``: every credit-costing call the flows made, for the daily budget.
- ``credit_locks``: one row per org that every budget reservation updates first, so
  reservations of one org run one at a time across threads and processes (the row lock on
  PostgreSQL; a write-write conflict, retried, on DuckDB).

Timestamps are naive UTC ``datetime`` values (portable across DuckDB, PostgreSQL and SQLite).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

SCHEMA = "zoho_etl"


def utcnow() -> datetime:
    """Naive UTC now, the form every ledger timestamp takes."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


class JobState(StrEnum):
    PLANNED = "planned"
    CREATED = "created"
    COMPLETED = "completed"
    DOWNLOADED = "downloaded"
    LOADED = "loaded"
    FAILED = "failed"
    EXPIRED = "expired"
    SPLIT = "split"


#: Allowed transitions; anything else is a bug (or a second run writing the same job).
_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PLANNED: frozenset({JobState.CREATED, JobState.LOADED, JobState.EXPIRED}),
    JobState.CREATED: frozenset(
        {JobState.COMPLETED, JobState.FAILED, JobState.EXPIRED, JobState.CREATED}
    ),
    JobState.COMPLETED: frozenset(
        {JobState.DOWNLOADED, JobState.EXPIRED, JobState.SPLIT, JobState.LOADED}
    ),
    JobState.DOWNLOADED: frozenset({JobState.LOADED, JobState.COMPLETED, JobState.EXPIRED}),
    JobState.LOADED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.EXPIRED: frozenset(),
    JobState.SPLIT: frozenset(),
}


#: Attempts that are over without loading their page: the page is planned again as a new row.
SUPERSEDED: frozenset[JobState] = frozenset({JobState.FAILED, JobState.EXPIRED})


class ExtractState(StrEnum):
    RUNNING = "running"
    LOADED = "loaded"
    FAILED = "failed"
    SPLIT = "split"


@dataclass(frozen=True)
class ExtractRecord:
    extract_id: str
    org: str
    product: str
    module: str
    kind: str
    query: dict[str, Any]
    method: str
    reason: str
    state: str
    window_start: datetime | None
    window_end: datetime | None
    parent_id: str | None
    rows_loaded: int
    credits: int
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class JobRecord:
    job_key: str
    extract_id: str
    org: str
    product: str
    module: str
    page: int
    page_token: str | None
    query: dict[str, Any]
    state: JobState
    job_id: str | None
    created_at: datetime | None
    completed_at: datetime | None
    record_count: int | None
    per_page: int | None
    more_records: bool | None
    next_page_token: str | None
    file_path: str | None
    sha256: str | None
    file_size: int | None
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    credits: int
    error: str | None
    planned_at: datetime
    updated_at: datetime
    #: how long Zoho took, when a process watched the job end (None: ended unseen)
    job_seconds: float | None = None


@dataclass(frozen=True)
class Watermark:
    """The newest ``Modified_Time`` loaded for a module and the record ids carrying it."""

    modified_time: datetime
    ids: tuple[str, ...] = ()


def _tables(metadata: sa.MetaData, *, schema: str | None, prefix: str) -> dict[str, sa.Table]:
    ts = sa.DateTime()
    extracts = sa.Table(
        f"{prefix}extracts",
        metadata,
        sa.Column("extract_id", sa.String(64), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("module", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("window_start", ts),
        sa.Column("window_end", ts),
        sa.Column("parent_id", sa.String(64)),
        sa.Column("rows_loaded", sa.BigInteger, nullable=False, default=0),
        sa.Column("credits", sa.BigInteger, nullable=False, default=0),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("finished_at", ts),
        schema=schema,
    )
    jobs = sa.Table(
        f"{prefix}jobs",
        metadata,
        sa.Column("job_key", sa.String(100), primary_key=True),
        sa.Column("extract_id", sa.String(64), nullable=False),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("module", sa.String(100), nullable=False),
        sa.Column("page", sa.Integer, nullable=False),
        sa.Column("page_token", sa.Text),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(64)),
        sa.Column("created_at", ts),
        sa.Column("completed_at", ts),
        # how long Zoho took, when a process watched the job end; NULL when it ended unseen
        # (during downtime): that time is not the job's, and must not feed estimates
        sa.Column("job_seconds", sa.Float),
        sa.Column("record_count", sa.BigInteger),
        sa.Column("per_page", sa.BigInteger),
        sa.Column("more_records", sa.Boolean),
        sa.Column("next_page_token", sa.Text),
        sa.Column("file_path", sa.Text),
        sa.Column("sha256", sa.String(64)),
        sa.Column("file_size", sa.BigInteger),
        sa.Column("rows_read", sa.BigInteger),
        sa.Column("rows_loaded", sa.BigInteger),
        sa.Column("rows_rejected", sa.BigInteger),
        sa.Column("credits", sa.BigInteger, nullable=False, default=0),
        sa.Column("error", sa.Text),
        sa.Column("planned_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        schema=schema,
    )
    watermarks = sa.Table(
        f"{prefix}watermarks",
        metadata,
        sa.Column("org", sa.String(64), primary_key=True),
        sa.Column("product", sa.String(16), primary_key=True),
        sa.Column("module", sa.String(100), primary_key=True),
        sa.Column("modified_time", ts, nullable=False),
        sa.Column("ids", sa.Text, nullable=False),
        sa.Column("extract_id", sa.String(64)),
        sa.Column("updated_at", ts, nullable=False),
        schema=schema,
    )
    page_watermarks = sa.Table(
        f"{prefix}page_watermarks",
        metadata,
        sa.Column("job_key", sa.String(100), primary_key=True),
        sa.Column("modified_time", ts),  # NULL: the page loaded no row
        sa.Column("ids", sa.Text, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        schema=schema,
    )
    credit_spend = sa.Table(
        f"{prefix}credit_spend",
        metadata,
        sa.Column("spend_id", sa.String(64), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("spent_at", ts, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("job_key", sa.String(100)),
        schema=schema,
    )
    credit_locks = sa.Table(
        f"{prefix}credit_locks",
        metadata,
        sa.Column("org", sa.String(64), primary_key=True),
        sa.Column("reservations", sa.BigInteger, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        schema=schema,
    )
    return {
        "extracts": extracts,
        "jobs": jobs,
        "watermarks": watermarks,
        "page_watermarks": page_watermarks,
        "credit_spend": credit_spend,
        "credit_locks": credit_locks,
    }


def extract_from_row(row: sa.Row[Any]) -> ExtractRecord:
    data = dict(row._mapping)
    data["query"] = json.loads(data["query"])
    data["rows_loaded"] = int(data["rows_loaded"] or 0)
    data["credits"] = int(data["credits"] or 0)
    return ExtractRecord(**{f.name: data[f.name] for f in fields(ExtractRecord)})


def job_from_row(row: sa.Row[Any]) -> JobRecord:
    data = dict(row._mapping)
    data["query"] = json.loads(data["query"])
    data["state"] = JobState(data["state"])
    data["credits"] = int(data["credits"] or 0)
    if data["job_seconds"] is not None:
        data["job_seconds"] = float(data["job_seconds"])
    for key in (
        "record_count",
        "per_page",
        "file_size",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
    ):
        if data[key] is not None:
            data[key] = int(data[key])
    if data["more_records"] is not None:
        data["more_records"] = bool(data["more_records"])
    return JobRecord(**{f.name: data[f.name] for f in fields(JobRecord)})


def summarise_jobs(jobs: Sequence[JobRecord]) -> dict[str, int]:
    """Counts per state, for progress artifacts and ``zoho-etl status``."""
    return dict(Counter(job.state.value for job in jobs))
