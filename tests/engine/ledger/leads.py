"""Helpers of the ledger tests: open a Leads extract, complete its first page."""

from __future__ import annotations

from typing import Any

from engine.ledger import ExtractRecord, Ledger


def open_leads(ledger: Ledger, kind: str = "full", **kw: Any) -> tuple[ExtractRecord, bool]:
    return ledger.open_extract(
        org="700000001",
        product="crm",
        module="Leads",
        kind=kind,
        query={"module": {"api_name": "Leads"}},
        method="bulk",
        reason="full export: bulk read",
        **kw,
    )


def complete_page_one(
    ledger: Ledger, extract: ExtractRecord, job_id: str, job_seconds: float | None = 12.5
) -> str:
    job = ledger.plan_page(extract, 1)
    ledger.mark_created(job.job_key, job_id, credits=50)
    ledger.mark_completed(
        job.job_key,
        record_count=1,
        per_page=None,
        more_records=False,
        next_page_token=None,
        job_seconds=job_seconds,
    )
    return job.job_key
