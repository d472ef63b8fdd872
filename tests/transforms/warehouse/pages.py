"""Small typed pages for the warehouse tests (already converted, as the CSV reader yields)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.fields import FieldSpec
from transforms.schema import build_page_schema

FIELDS = (
    FieldSpec("Name", "text"),
    FieldSpec("Score", "integer"),
    FieldSpec("Tags", "multiselectpicklist"),
    FieldSpec("Modified_Time", "datetime"),
)
HEADER = ("id", "Name", "Score", "Tags", "Modified_Time")
SCHEMA = build_page_schema(HEADER, FIELDS).arrow_schema
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def page(
    rows: list[dict[str, Any]],
    *,
    job_id: str = "job",
    extracted_at: datetime = T0,
    schema: pa.Schema = SCHEMA,
) -> pa.RecordBatch:
    """Rows as a batch of ``schema``; metadata columns filled in, missing values null."""
    meta = {"_zoho_module": "Leads", "_zoho_job_id": job_id, "_extracted_at": extracted_at}
    full = [{**{n: None for n in schema.names}, **meta, **row} for row in rows]
    return pa.RecordBatch.from_pylist(full, schema=schema)


def by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in table.to_pylist()}
