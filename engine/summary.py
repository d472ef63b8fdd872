"""Typed results of the engine: what one page's load, one page and one module's export did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transforms.drift import DriftReport

if TYPE_CHECKING:
    from engine.ledger import JobRecord
    from transforms import PageLoadResult


@dataclass(frozen=True)
class LoadOutcome:
    """What loading one page did: row counts, rejects, drift, and its newest records."""

    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rejects_path: Path | None = None
    drift: DriftReport | None = None
    seconds: float = 0.0
    #: the newest ``Modified_Time`` among the loaded rows and the ids at it (the watermark's)
    newest_modified: datetime | None = None
    newest_ids: tuple[str, ...] = ()

    @property
    def drift_changes(self) -> bool:
        """The load changed the table's columns (a created table alone is not drift)."""
        return self.drift is not None and bool(self.drift.changes)

    @classmethod
    def from_result(cls, result: PageLoadResult) -> LoadOutcome:
        return cls(
            rows_read=result.rows_read,
            rows_loaded=result.rows_loaded,
            rows_rejected=result.rows_rejected,
            rejects_path=result.rejects_path,
            drift=result.drift,
            seconds=result.seconds,
            newest_modified=result.newest_modified,
            newest_ids=result.newest_ids,
        )


@dataclass
class PageOutcome:
    """What happened to one page in this run."""

    job: JobRecord
    created_job: bool = False
    jobs_created: int = 0
    split: bool = False
    reused_download: bool = False
    load: LoadOutcome | None = None
    #: what the credit meter charged to this step's calls (``engine.credit_ledger.charged_to``)
    credits: int = 0
    polls: int = 0
    parquet_files: list[str] = field(default_factory=list)


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
    #: fields of the module that bulk read cannot export, with the reason (name -> reason)
    fields_left_out: dict[str, str] = field(default_factory=dict)

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
            "fields left out": ", ".join(f"{k} ({v})" for k, v in self.fields_left_out.items()),
            "status": "ok" if self.ok else f"FAILED: {self.error}",
        }

    @classmethod
    def stopped(
        cls,
        product: str,
        module: str,
        kind: str,
        error: str,
        jobs: list[JobRecord],
        since: datetime,
    ) -> ModuleSummary:
        """A module whose run failed or stopped: what its pages (``jobs``, changed since the
        run began at ``since``) loaded and the credits of the jobs it created."""
        from engine.ledger import JobState

        loaded = [j for j in jobs if j.state is JobState.LOADED]
        created = [j for j in jobs if j.created_at is not None and j.created_at >= since]
        return cls(
            product,
            module,
            kind=kind,
            error=error,
            rows_read=sum(j.rows_read or 0 for j in loaded),
            rows_loaded=sum(j.rows_loaded or 0 for j in loaded),
            rows_rejected=sum(j.rows_rejected or 0 for j in loaded),
            pages=len(loaded),
            bulk_jobs_created=sum(1 for j in created if j.job_id is not None),
            credits=sum(j.credits for j in created),
        )
