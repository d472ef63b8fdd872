"""The ``jobs`` table: one row per page attempt of an extract, moved along its state machine."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.errors import LedgerError
from engine.ledger.base import LedgerBase
from engine.ledger.schema import (
    _TRANSITIONS,
    SUPERSEDED,
    ExtractRecord,
    JobRecord,
    JobState,
    job_from_row,
    utcnow,
)


class JobsTable(LedgerBase):
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
                job_from_row(r)
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
            return job_from_row(row)

    def get_job(self, job_key: str) -> JobRecord:
        with self.engine.connect() as conn:
            row = conn.execute(self.jobs.select().where(self.jobs.c.job_key == job_key)).first()
        if row is None:
            raise LedgerError(job_key, "no such job in the ledger")
        return job_from_row(row)

    def jobs_for_extract(self, extract_id: str, *, live_only: bool = True) -> list[JobRecord]:
        """The extract's jobs by page; ``live_only`` leaves out failed and expired attempts."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                self.jobs.select()
                .where(self.jobs.c.extract_id == extract_id)
                .order_by(self.jobs.c.page, self.jobs.c.planned_at)
            ).all()
        jobs = [job_from_row(r) for r in rows]
        if live_only:
            jobs = [j for j in jobs if j.state not in SUPERSEDED]
        return jobs

    def last_completed_job(
        self, org: str, product: str, module: str, *, other_than_extract: str | None = None
    ) -> JobRecord | None:
        """The most recently completed bulk job of ``org``/``product``/``module`` whose end a
        process watched (any extract but ``other_than_extract``), or None: how long Zoho
        took last time."""
        recent = self.recent_completed_jobs(
            org, product, module, limit=1, other_than_extract=other_than_extract
        )
        return recent[0] if recent else None

    def recent_completed_jobs(
        self,
        org: str,
        product: str,
        module: str | None,
        *,
        limit: int = 20,
        other_than_extract: str | None = None,
    ) -> list[JobRecord]:
        """The ``limit`` most recently completed bulk jobs of ``org``/``product``/``module``
        (``None``: of any module) whose end a process watched (any extract but
        ``other_than_extract``), newest first: how long Zoho takes for this module."""
        jobs = self.jobs
        query = (
            jobs.select()
            .where(
                jobs.c.org == org,
                jobs.c.product == product,
                jobs.c.job_seconds.is_not(None),
                jobs.c.completed_at.is_not(None),
            )
            .order_by(jobs.c.completed_at.desc())
            .limit(limit)
        )
        if module is not None:
            query = query.where(jobs.c.module == module)
        if other_than_extract is not None:
            query = query.where(jobs.c.extract_id != other_than_extract)
        with self.engine.connect() as conn:
            return [job_from_row(r) for r in conn.execute(query)]

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
            return job_from_row(row)

    def mark_created(self, job_key: str, job_id: str, credits: int = 0) -> JobRecord:
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

    def module_jobs_since(
        self, org: str, product: str, module: str, since: datetime
    ) -> list[JobRecord]:
        """The module's jobs changed at or after ``since`` (a run's pages, loaded or not)."""
        c = self.jobs.c
        query = self.jobs.select().where(
            c.org == org, c.product == product, c.module == module, c.updated_at >= since
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.page)).all()
        return [job_from_row(r) for r in rows]

    def recent_jobs(self, limit: int = 50) -> list[JobRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                self.jobs.select().order_by(self.jobs.c.updated_at.desc()).limit(limit)
            ).all()
        return [job_from_row(r) for r in rows]
