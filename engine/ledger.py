"""The job ledger: every bulk job, extract, watermark and credit spent, in the warehouse.

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
- ``credit_spend``: every credit-costing call the flows made, for the daily budget.
- ``credit_locks``: one row per org that every budget reservation updates first, so
  reservations of one org run one at a time across threads and processes (the row lock on
  PostgreSQL; a write-write conflict, retried, on DuckDB).

Timestamps are naive UTC ``datetime`` values (portable across DuckDB, PostgreSQL and SQLite).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine.errors import LedgerError

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
        "credit_spend": credit_spend,
        "credit_locks": credit_locks,
    }


class Ledger:
    """Job ledger on a SQLAlchemy engine (the warehouse's, or a separate database).

    Thread-safe: writes are serialised with a lock (DuckDB allows one writer per table
    transaction within a process; PostgreSQL would not need it but it costs nothing).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        has_schema = engine.dialect.name in {"postgresql", "duckdb"}
        self.schema = SCHEMA if has_schema else None
        self.prefix = "" if has_schema else f"{SCHEMA}_"
        self.metadata = sa.MetaData()
        t = _tables(self.metadata, schema=self.schema, prefix=self.prefix)
        self.extracts = t["extracts"]
        self.jobs = t["jobs"]
        self.watermarks_table = t["watermarks"]
        self.credit_spend = t["credit_spend"]
        self.credit_locks = t["credit_locks"]
        self._lock = threading.RLock()
        self._orgs_with_lock_row: set[str] = set()

    @classmethod
    def from_url(cls, url: str) -> Ledger:
        ledger = cls(sa.create_engine(url))
        ledger.create_schema()
        return ledger

    def table_name(self, name: str) -> str:
        """Qualified name of a ledger table, for queries users paste."""
        table = f"{self.prefix}{name}"
        return f"{self.schema}.{table}" if self.schema else table

    def create_schema(self) -> None:
        try:
            with self._lock, self.engine.begin() as conn:
                if self.schema:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                self.metadata.create_all(conn)
                self._add_missing_columns(conn)
        except sa.exc.DBAPIError as exc:
            if _is_file_locked(exc):
                raise LedgerError("(ledger)", _file_locked_message(exc)) from None
            raise

    def _add_missing_columns(self, conn: sa.Connection) -> None:
        """Columns added to a ledger table after a ledger was created (nullable ones only)."""
        for table in self.metadata.sorted_tables:
            have = self._column_names(conn, table.name)
            for column in table.columns:
                if column.name in have or not column.nullable:
                    continue
                kind = column.type.compile(dialect=conn.dialect)
                name = f'"{self.schema}"."{table.name}"' if self.schema else f'"{table.name}"'
                conn.execute(sa.text(f'ALTER TABLE {name} ADD COLUMN "{column.name}" {kind}'))

    def _column_names(self, conn: sa.Connection, table: str) -> set[str]:
        if self.schema is None:  # SQLite: no information_schema
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}
        # information_schema, not the inspector: duckdb-engine cannot run PostgreSQL's
        # reflection queries
        rows = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = :schema AND table_name = :table"
            ),
            {"schema": self.schema, "table": table},
        )
        return {str(r[0]) for r in rows}

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._lock, self.engine.begin() as conn:
            yield conn

    # ---- extracts -------------------------------------------------------------------------

    def open_extract(
        self,
        *,
        org: str,
        product: str,
        module: str,
        kind: str,
        query: Mapping[str, Any],
        method: str,
        reason: str,
        window: tuple[datetime, datetime] | None = None,
        parent_id: str | None = None,
    ) -> tuple[ExtractRecord, bool]:
        """The unfinished extract of this kind (and window) if there is one, else a new one.

        Returns ``(extract, resumed)``. A resumed extract keeps its original query, method
        and reason: an incremental run killed half-way continues with the watermark it
        planned with, so no record between the two runs is missed.
        """
        with self._write() as conn:
            existing = self._find_extract(
                conn, org, product, module, kind, window, ExtractState.RUNNING
            )
            if existing is not None:
                return existing, True
            now = utcnow()
            values = {
                "extract_id": uuid.uuid4().hex,
                "org": org,
                "product": product,
                "module": module,
                "kind": kind,
                "query": json.dumps(query, sort_keys=True),
                "method": method,
                "reason": reason,
                "state": ExtractState.RUNNING.value,
                "window_start": to_naive_utc(window[0]) if window else None,
                "window_end": to_naive_utc(window[1]) if window else None,
                "parent_id": parent_id,
                "rows_loaded": 0,
                "credits": 0,
                "started_at": now,
                "finished_at": None,
            }
            conn.execute(self.extracts.insert().values(**values))
            row = conn.execute(
                self.extracts.select().where(self.extracts.c.extract_id == values["extract_id"])
            ).one()
            return _extract(row), False

    def find_extract(
        self,
        *,
        org: str,
        product: str,
        module: str,
        kind: str,
        window: tuple[datetime, datetime] | None = None,
        state: ExtractState | None = None,
    ) -> ExtractRecord | None:
        """The newest extract matching, optionally in a given state."""
        with self.engine.connect() as conn:
            return self._find_extract(conn, org, product, module, kind, window, state)

    def _find_extract(
        self,
        conn: sa.Connection,
        org: str,
        product: str,
        module: str,
        kind: str,
        window: tuple[datetime, datetime] | None,
        state: ExtractState | None,
    ) -> ExtractRecord | None:
        c = self.extracts.c
        query = sa.select(self.extracts).where(
            c.org == org, c.product == product, c.module == module, c.kind == kind
        )
        if window is None:
            query = query.where(c.window_start.is_(None))
        else:
            query = query.where(
                c.window_start == to_naive_utc(window[0]), c.window_end == to_naive_utc(window[1])
            )
        if state is not None:
            query = query.where(c.state == state.value)
        row = conn.execute(query.order_by(c.started_at.desc())).first()
        return _extract(row) if row is not None else None

    def get_extract(self, extract_id: str) -> ExtractRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                self.extracts.select().where(self.extracts.c.extract_id == extract_id)
            ).first()
        if row is None:
            raise LedgerError(extract_id, "no such extract in the ledger")
        return _extract(row)

    def finish_extract(self, extract_id: str, state: ExtractState) -> ExtractRecord:
        """Close an extract, totalling rows and credits from its jobs."""
        with self._write() as conn:
            jc = self.jobs.c
            rows, credits = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(jc.rows_loaded), 0),
                    sa.func.coalesce(sa.func.sum(jc.credits), 0),
                ).where(jc.extract_id == extract_id)
            ).one()
            conn.execute(
                self.extracts.update()
                .where(self.extracts.c.extract_id == extract_id)
                .values(
                    state=state.value,
                    rows_loaded=int(rows),
                    credits=int(credits),
                    finished_at=utcnow(),
                )
            )
        return self.get_extract(extract_id)

    def set_extract_method(self, extract_id: str, method: str, reason: str) -> None:
        with self._write() as conn:
            conn.execute(
                self.extracts.update()
                .where(self.extracts.c.extract_id == extract_id)
                .values(method=method, reason=reason)
            )

    # ---- jobs -----------------------------------------------------------------------------

    def plan_page(
        self,
        extract: ExtractRecord,
        page: int,
        *,
        page_token: str | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        """Record the intent to read one page; idempotent (returns the existing live row).

        If the page's previous attempt failed or expired, a new attempt gets a ``.rN``
        suffix (the old row stays, with its error).
        """
        base_key = f"{extract.extract_id}:p{page}"
        with self._write() as conn:
            attempts = [
                _job(r)
                for r in conn.execute(
                    self.jobs.select()
                    .where(self.jobs.c.extract_id == extract.extract_id, self.jobs.c.page == page)
                    .order_by(self.jobs.c.planned_at)
                )
            ]
            live = [j for j in attempts if j.state not in SUPERSEDED]
            if live:
                return live[-1]
            key = base_key if not attempts else f"{base_key}.r{len(attempts)}"
            now = utcnow()
            conn.execute(
                self.jobs.insert().values(
                    job_key=key,
                    extract_id=extract.extract_id,
                    org=extract.org,
                    product=extract.product,
                    module=extract.module,
                    page=page,
                    page_token=page_token,
                    query=json.dumps(query if query is not None else extract.query, sort_keys=True),
                    state=JobState.PLANNED.value,
                    credits=0,
                    planned_at=now,
                    updated_at=now,
                )
            )
            row = conn.execute(self.jobs.select().where(self.jobs.c.job_key == key)).one()
            return _job(row)

    def get_job(self, job_key: str) -> JobRecord:
        with self.engine.connect() as conn:
            row = conn.execute(self.jobs.select().where(self.jobs.c.job_key == job_key)).first()
        if row is None:
            raise LedgerError(job_key, "no such job in the ledger")
        return _job(row)

    def jobs_for_extract(self, extract_id: str, *, live_only: bool = True) -> list[JobRecord]:
        """The extract's jobs by page; ``live_only`` leaves out failed and expired attempts."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                self.jobs.select()
                .where(self.jobs.c.extract_id == extract_id)
                .order_by(self.jobs.c.page, self.jobs.c.planned_at)
            ).all()
        jobs = [_job(r) for r in rows]
        if live_only:
            jobs = [j for j in jobs if j.state not in SUPERSEDED]
        return jobs

    def last_completed_job(
        self, org: str, product: str, module: str, *, other_than_extract: str | None = None
    ) -> JobRecord | None:
        """The most recently completed bulk job of ``org``/``product``/``module`` whose end a
        process watched (any extract but ``other_than_extract``), or None: how long Zoho
        took last time."""
        jobs = self.jobs
        query = (
            jobs.select()
            .where(
                jobs.c.org == org,
                jobs.c.product == product,
                jobs.c.module == module,
                jobs.c.job_seconds.is_not(None),
                jobs.c.completed_at.is_not(None),
            )
            .order_by(jobs.c.completed_at.desc())
            .limit(1)
        )
        if other_than_extract is not None:
            query = query.where(jobs.c.extract_id != other_than_extract)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _job(row)

    def _transition(self, job_key: str, new: JobState, **values: Any) -> JobRecord:
        with self._write() as conn:
            row = conn.execute(self.jobs.select().where(self.jobs.c.job_key == job_key)).first()
            if row is None:
                raise LedgerError(job_key, "no such job in the ledger")
            current = JobState(row.state)
            if new not in _TRANSITIONS[current]:
                raise LedgerError(job_key, f"cannot go from {current.value} to {new.value}")
            conn.execute(
                self.jobs.update()
                .where(self.jobs.c.job_key == job_key)
                .values(state=new.value, updated_at=utcnow(), **values)
            )
            row = conn.execute(self.jobs.select().where(self.jobs.c.job_key == job_key)).one()
            return _job(row)

    def mark_created(self, job_key: str, job_id: str, credits: int) -> JobRecord:
        return self._transition(
            job_key,
            JobState.CREATED,
            job_id=job_id,
            created_at=utcnow(),
            credits=self.jobs.c.credits + credits,
        )

    def mark_completed(
        self,
        job_key: str,
        *,
        record_count: int,
        per_page: int | None,
        more_records: bool,
        next_page_token: str | None,
        job_seconds: float | None = None,
    ) -> JobRecord:
        """The job is done on Zoho's side. ``job_seconds`` only when its end was watched."""
        return self._transition(
            job_key,
            JobState.COMPLETED,
            completed_at=utcnow(),
            job_seconds=job_seconds,
            record_count=record_count,
            per_page=per_page,
            more_records=more_records,
            next_page_token=next_page_token,
        )

    def mark_downloaded(self, job_key: str, *, path: str, sha256: str, size: int) -> JobRecord:
        return self._transition(
            job_key, JobState.DOWNLOADED, file_path=path, sha256=sha256, file_size=size
        )

    def mark_download_invalid(self, job_key: str, reason: str) -> JobRecord:
        """The downloaded file is gone or its checksum differs: download again."""
        return self._transition(
            job_key, JobState.COMPLETED, file_path=None, sha256=None, file_size=None, error=reason
        )

    def mark_loaded(
        self,
        job_key: str,
        *,
        rows_read: int,
        rows_loaded: int,
        rows_rejected: int,
        credits: int = 0,
    ) -> JobRecord:
        return self._transition(
            job_key,
            JobState.LOADED,
            rows_read=rows_read,
            rows_loaded=rows_loaded,
            rows_rejected=rows_rejected,
            credits=self.jobs.c.credits + credits,
        )

    def mark_failed(self, job_key: str, error: str) -> JobRecord:
        return self._transition(job_key, JobState.FAILED, error=error)

    def mark_expired(self, job_key: str, reason: str) -> JobRecord:
        return self._transition(job_key, JobState.EXPIRED, error=reason)

    def mark_split(self, job_key: str, reason: str) -> JobRecord:
        return self._transition(job_key, JobState.SPLIT, error=reason)

    def add_job_credits(self, job_key: str, credits: int) -> None:
        with self._write() as conn:
            conn.execute(
                self.jobs.update()
                .where(self.jobs.c.job_key == job_key)
                .values(credits=self.jobs.c.credits + credits, updated_at=utcnow())
            )

    def recent_jobs(self, limit: int = 50) -> list[JobRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                self.jobs.select().order_by(self.jobs.c.updated_at.desc()).limit(limit)
            ).all()
        return [_job(r) for r in rows]

    def recent_extracts(self, limit: int = 50) -> list[ExtractRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                self.extracts.select().order_by(self.extracts.c.started_at.desc()).limit(limit)
            ).all()
        return [_extract(r) for r in rows]

    # ---- watermarks -----------------------------------------------------------------------

    def get_watermark(self, org: str, product: str, module: str) -> Watermark | None:
        w = self.watermarks_table.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(w.modified_time, w.ids).where(
                    w.org == org, w.product == product, w.module == module
                )
            ).first()
        if row is None:
            return None
        return Watermark(modified_time=row.modified_time, ids=tuple(json.loads(row.ids)))

    def set_watermark(
        self, org: str, product: str, module: str, watermark: Watermark, extract_id: str
    ) -> None:
        """Store a watermark; never moves it backwards."""
        w = self.watermarks_table.c
        new_time = to_naive_utc(watermark.modified_time)
        with self._write() as conn:
            row = conn.execute(
                sa.select(w.modified_time).where(
                    w.org == org, w.product == product, w.module == module
                )
            ).first()
            values = {
                "modified_time": new_time,
                "ids": json.dumps(sorted(watermark.ids)),
                "extract_id": extract_id,
                "updated_at": utcnow(),
            }
            if row is None:
                conn.execute(
                    self.watermarks_table.insert().values(
                        org=org, product=product, module=module, **values
                    )
                )
            elif new_time >= row.modified_time:
                conn.execute(
                    self.watermarks_table.update()
                    .where(w.org == org, w.product == product, w.module == module)
                    .values(**values)
                )

    def all_watermarks(self) -> list[tuple[str, str, str, Watermark]]:
        w = self.watermarks_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(w.org, w.product, w.module, w.modified_time, w.ids).order_by(
                    w.org, w.product, w.module
                )
            ).all()
        return [
            (r.org, r.product, r.module, Watermark(r.modified_time, tuple(json.loads(r.ids))))
            for r in rows
        ]

    # ---- credits --------------------------------------------------------------------------

    def record_spend(
        self,
        org: str,
        credits: int,
        what: str,
        job_key: str | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        with self._write() as conn:
            self._insert_spend(conn, org, credits, what, job_key, at or utcnow())

    def _insert_spend(
        self,
        conn: sa.Connection,
        org: str,
        credits: int,
        what: str,
        job_key: str | None,
        at: datetime,
    ) -> None:
        conn.execute(
            self.credit_spend.insert().values(
                spend_id=uuid.uuid4().hex,
                org=org,
                spent_at=to_naive_utc(at),
                credits=credits,
                what=what,
                job_key=job_key,
            )
        )

    def credits_spent_since(self, org: str, since: datetime) -> int:
        c = self.credit_spend.c
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(c.credits), 0)).where(
                    c.org == org, c.spent_at > to_naive_utc(since)
                )
            ).scalar_one()
        return int(total)

    def spend_times(self, org: str, since: datetime) -> list[tuple[datetime, int]]:
        c = self.credit_spend.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.spent_at, c.credits)
                .where(c.org == org, c.spent_at > to_naive_utc(since))
                .order_by(c.spent_at)
            ).all()
        return [(r.spent_at, int(r.credits)) for r in rows]

    def reserve_credits(
        self,
        org: str,
        credits: int,
        what: str,
        *,
        limit: int,
        window: timedelta,
        job_key: str | None = None,
        now: datetime | None = None,
    ) -> tuple[bool, int]:
        """Atomically record ``credits`` if the window's total stays within ``limit``.

        Returns ``(reserved, available_before)``. Check and insert are one transaction that
        first updates the org's ``credit_locks`` row: on PostgreSQL a second reservation of
        the org (any process) waits for the row lock, then sees the first one's spend; on
        DuckDB it fails with a write-write conflict and is tried again.
        """
        at = to_naive_utc(now or utcnow())
        c = self.credit_spend.c
        lock = self.credit_locks
        self._ensure_credit_lock_row(org, at)
        for attempt in range(RESERVE_ATTEMPTS):
            try:
                with self._write() as conn:
                    conn.execute(
                        lock.update()
                        .where(lock.c.org == org)
                        .values(reservations=lock.c.reservations + 1, updated_at=at)
                    )
                    spent = int(
                        conn.execute(
                            sa.select(sa.func.coalesce(sa.func.sum(c.credits), 0)).where(
                                c.org == org, c.spent_at > at - window
                            )
                        ).scalar_one()
                    )
                    available = max(limit - spent, 0)
                    if credits > available:
                        return False, available
                    self._insert_spend(conn, org, credits, what, job_key, at)
                    return True, available
            except sa.exc.DBAPIError as exc:
                if not _is_write_conflict(exc):
                    raise
                time.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.25)))  # jittered
        raise LedgerError(
            f"credit_locks[{org}]",
            f"{RESERVE_ATTEMPTS} credit reservations in a row collided with other writers; "
            "nothing was reserved and no call was made: run again",
        )

    def _ensure_credit_lock_row(self, org: str, at: datetime) -> None:
        """Create the org's ``credit_locks`` row once (a concurrent creator may win)."""
        if org in self._orgs_with_lock_row:
            return
        lock = self.credit_locks
        try:
            with self._write() as conn:
                exists = conn.execute(sa.select(lock.c.org).where(lock.c.org == org)).first()
                if exists is None:
                    conn.execute(lock.insert().values(org=org, reservations=0, updated_at=at))
        except sa.exc.IntegrityError:
            pass  # another process inserted it first
        except sa.exc.DBAPIError as exc:
            if not _is_write_conflict(exc):
                raise
        self._orgs_with_lock_row.add(org)


#: Reservations that collided (DuckDB conflict, PostgreSQL serialisation failure) are tried
#: again this many times in all before giving up with a ``LedgerError``.
RESERVE_ATTEMPTS = 50
#: SQLSTATEs of PostgreSQL errors that mean "another transaction won: try again".
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})


def _is_write_conflict(exc: sa.exc.DBAPIError) -> bool:
    """A transaction that lost to a concurrent writer and may simply be run again."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    if type(orig).__name__ == "TransactionException":  # DuckDB: "Conflict on update!"
        return True
    if type(orig).__name__ == "ConstraintException":  # DuckDB: the same new row twice
        return True
    return "database is locked" in str(orig)  # SQLite's busy writer


def _is_file_locked(exc: sa.exc.DBAPIError) -> bool:
    return type(exc.orig).__name__ == "IOException" and "Could not set lock" in str(exc.orig)


def _file_locked_message(exc: sa.exc.DBAPIError) -> str:
    holder = str(exc.orig).split("Conflicting lock is held in", 1)[-1].split(". See", 1)[0]
    return (
        "the DuckDB ledger file is open in another process"
        f" ({holder.strip()}); DuckDB allows one writing process per file: wait for that run "
        "to end, or keep the ledger in PostgreSQL to run flows side by side"
    )


def _extract(row: sa.Row[Any]) -> ExtractRecord:
    data = dict(row._mapping)
    data["query"] = json.loads(data["query"])
    data["rows_loaded"] = int(data["rows_loaded"] or 0)
    data["credits"] = int(data["credits"] or 0)
    return ExtractRecord(**{f.name: data[f.name] for f in fields(ExtractRecord)})


def _job(row: sa.Row[Any]) -> JobRecord:
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
