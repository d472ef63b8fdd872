"""Typed results of the engine: what one module's export (or one backfill) did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModuleSummary:
    """What one module's export (or one backfill) did; also the UI artifact's row."""

    product: str
    module: str
    kind: str
    method: str = "bulk"
    reason: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    deleted: int = 0
    pages: int = 0
    bulk_jobs_created: int = 0
    credits: int = 0
    seconds: float = 0.0
    table: str | None = None
    error: str | None = None
    parquet_files: list[str] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    rejects_paths: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_row(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "module": self.module,
            "kind": self.kind,
            "method": self.method,
            "rows loaded": self.rows_loaded,
            "rejected": self.rows_rejected,
            "deleted": self.deleted,
            "pages": self.pages,
            "bulk jobs": self.bulk_jobs_created,
            "credits": self.credits,
            "seconds": round(self.seconds, 2),
            "status": "ok" if self.ok else f"FAILED: {self.error}",
        }
