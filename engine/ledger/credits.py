"""The ``credit_spend`` and ``credit_locks`` tables: credits spent, budget reservations."""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from engine.errors import LedgerError
from engine.ledger.base import RESERVE_ATTEMPTS, LedgerBase, _is_write_conflict
from engine.ledger.schema import to_naive_utc, utcnow


class CreditsTable(LedgerBase):
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
