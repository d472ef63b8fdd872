"""The ``extracts`` table: one logical export of a module (full, incremental, a window)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.errors import LedgerError
from engine.ledger.base import LedgerBase
from engine.ledger.schema import (
    ExtractRecord,
    ExtractState,
    extract_from_row,
    to_naive_utc,
    utcnow,
)


class ExtractsTable(LedgerBase):
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
            return extract_from_row(row), False

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
        return extract_from_row(row) if row is not None else None

    def get_extract(self, extract_id: str) -> ExtractRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                self.extracts.select().where(self.extracts.c.extract_id == extract_id)
            ).first()
        if row is None:
            raise LedgerError(extract_id, "no such extract in the ledger")
        return extract_from_row(row)

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

    def recent_extracts(self, limit: int = 50) -> list[ExtractRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                self.extracts.select().order_by(self.extracts.c.started_at.desc()).limit(limit)
            ).all()
        return [extract_from_row(r) for r in rows]
