"""The audit table of Creator retention deletes: every matched, deleted and failed record id.

``creator_deletions`` sits next to the ledger's tables (``zoho_etl.creator_deletions`` on
DuckDB and PostgreSQL, ``zoho_etl_creator_deletions`` on SQLite), one row per retention run
(``extract_id``, the ledger extract) and record:

- ``matched``: the criteria selected it when the run listed its records, before deleting;
- ``deleted``: Creator deleted it (``deleted_at``); this row is never removed;
- ``failed``: Creator refused to delete it (``code`` 3001 and its message).

A run that crashed in the middle of a delete call finds the ids that call deleted as the
``matched`` ids that no longer match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa

from engine.ledger import Ledger, to_naive_utc, utcnow

MATCHED, DELETED, FAILED = "matched", "deleted", "failed"
_CHUNK = 500


class DeletionAudit:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            f"{ledger.prefix}creator_deletions",
            self.metadata,
            sa.Column("extract_id", sa.String(64), primary_key=True),
            sa.Column("record_id", sa.String(32), primary_key=True),
            sa.Column("app", sa.String(100), nullable=False),
            sa.Column("report", sa.String(100), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("code", sa.Integer),
            sa.Column("message", sa.Text),
            sa.Column("deleted_at", sa.DateTime),
            sa.Column("recorded_at", sa.DateTime, nullable=False),
            schema=ledger.schema,
        )
        with ledger.engine.begin() as conn:
            self.metadata.create_all(conn)

    @property
    def name(self) -> str:
        return self.ledger.table_name("creator_deletions")

    def add_matched(self, extract_id: str, app: str, report: str, ids: Iterable[str]) -> int:
        """Record the ids the criteria selects now (ids already recorded are left alone)."""
        known = self.ids(extract_id)
        now = utcnow()
        rows = [
            {"extract_id": extract_id, "record_id": i, "app": app, "report": report,
             "state": MATCHED, "recorded_at": now}
            for i in dict.fromkeys(ids) if i not in known
        ]  # fmt: skip
        with self.ledger.engine.begin() as conn:
            for start in range(0, len(rows), _CHUNK):
                conn.execute(self.table.insert(), rows[start : start + _CHUNK])
        return len(rows)

    def record(
        self,
        extract_id: str,
        app: str,
        report: str,
        *,
        deleted: Sequence[str] = (),
        failed: Sequence[tuple[str, int, str]] = (),
        at: datetime | None = None,
    ) -> None:
        """Mark ``deleted`` ids deleted at ``at`` and ``failed`` ones failed (upserts)."""
        when = to_naive_utc(at or utcnow())
        self.add_matched(extract_id, app, report, [*deleted, *(f[0] for f in failed)])
        c = self.table.c
        with self.ledger.engine.begin() as conn:
            for start in range(0, len(deleted), _CHUNK):
                chunk = list(deleted[start : start + _CHUNK])
                conn.execute(
                    self.table.update()
                    .where(c.extract_id == extract_id, c.record_id.in_(chunk))
                    .values(state=DELETED, deleted_at=when, recorded_at=utcnow())
                )
            for record_id, code, message in failed:
                conn.execute(
                    self.table.update()
                    .where(c.extract_id == extract_id, c.record_id == record_id)
                    .values(state=FAILED, code=code, message=message, recorded_at=utcnow())
                )

    def ids(self, extract_id: str, state: str | None = None) -> set[str]:
        c = self.table.c
        query = sa.select(c.record_id).where(c.extract_id == extract_id)
        if state is not None:
            query = query.where(c.state == state)
        with self.ledger.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(query)}

    def failures(self, extract_id: str) -> list[tuple[str, int, str]]:
        c = self.table.c
        query = sa.select(c.record_id, c.code, c.message).where(
            c.extract_id == extract_id, c.state == FAILED
        )
        with self.ledger.engine.connect() as conn:
            return sorted((str(r[0]), int(r[1] or 0), str(r[2] or "")) for r in conn.execute(query))

    def deleted_since(self, app: str, report: str) -> list[tuple[str, datetime]]:
        """Every id ever deleted from the report, with when (all runs)."""
        c = self.table.c
        query = sa.select(c.record_id, c.deleted_at).where(
            c.app == app, c.report == report, c.state == DELETED
        )
        with self.ledger.engine.connect() as conn:
            return [(str(r[0]), r[1]) for r in conn.execute(query)]
