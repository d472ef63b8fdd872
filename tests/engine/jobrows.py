"""A ledger job row for engine tests that need one without a ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.ledger import JobRecord, JobState

T0 = datetime(2026, 1, 1, 9, 0)


def job(page: int, took: float | None, *, extract_id: str = "e1", **kw: Any) -> JobRecord:
    """A ledger row of ``page`` whose Zoho job took ``took`` seconds (None: not completed)."""
    values: dict[str, Any] = {
        "job_key": f"{extract_id}:p{page}",
        "extract_id": extract_id,
        "org": "700000001",
        "product": "crm",
        "module": "Leads",
        "page": page,
        "page_token": None,
        "query": {},
        "state": JobState.CREATED if took is None else JobState.COMPLETED,
        "job_id": f"48768760000000{page}",
        "created_at": T0,
        "completed_at": None if took is None else T0 + timedelta(seconds=took),
        "job_seconds": took,
        "record_count": None,
        "per_page": None,
        "more_records": None,
        "next_page_token": None,
        "file_path": None,
        "sha256": None,
        "file_size": None,
        "rows_read": None,
        "rows_loaded": None,
        "rows_rejected": None,
        "credits": 0,
        "error": None,
        "planned_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    return JobRecord(**values)
