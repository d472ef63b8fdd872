"""The ``watermarks`` table (per org/product/module, the newest ``Modified_Time`` loaded) and
``page_watermarks`` (the same per loaded page, as its load saw it)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from engine.ledger.base import LedgerBase
from engine.ledger.schema import Watermark, to_naive_utc, utcnow


class WatermarksTable(LedgerBase):
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

    def record_page_newest(self, job_key: str, newest: Watermark | None) -> None:
        """What the load of page ``job_key`` saw: its newest records (None: it had no row).
        A page loaded again replaces its row."""
        p = self.page_watermarks
        values = {
            "modified_time": None if newest is None else to_naive_utc(newest.modified_time),
            "ids": json.dumps(sorted(newest.ids) if newest is not None else []),
            "updated_at": utcnow(),
        }
        with self._write() as conn:
            conn.execute(p.delete().where(p.c.job_key == job_key))
            conn.execute(p.insert().values(job_key=job_key, **values))

    def page_newest(self, job_key: str) -> tuple[bool, Watermark | None]:
        """``(recorded, newest)`` of a loaded page; ``recorded`` is False for a page whose
        load did not record it (an older version loaded it)."""
        p = self.page_watermarks.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(p.modified_time, p.ids).where(p.job_key == job_key)
            ).first()
        if row is None:
            return False, None
        if row.modified_time is None:
            return True, None
        return True, Watermark(row.modified_time, tuple(json.loads(row.ids)))
