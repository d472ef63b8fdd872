"""What a write-back run reports: `WriteSummary`, one per module written.

A parent/child write gives the parent's summary with one more per child module in
``children`` (the same job: the children's ``jobs`` and ``credits`` are 0). The per-row
rows (``row_results``) are what the CLI and the Prefect artifacts show: every row up to
`PER_ROW_LIMIT`, else the first `FIRST_FAILED` rows that failed, were rejected or came
back with a status this tool does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: A write-back's per-row results up to this many rows are a table artifact; a bigger
#: result is summarised by its Parquet path and the first `FIRST_FAILED` failed rows.
PER_ROW_LIMIT = 200
FIRST_FAILED = 20
FAILED_STATUSES = frozenset({"FAILED", "REJECTED", "UNKNOWN"})
#: a dry run shows this many of its invalid rows; the file holds all of them
INVALID_ROWS_SHOWN = 10


@dataclass
class WriteSummary:
    """The outcome of one write-back (or dry run) of one module.

    ``counts``: a dry run's ``rows`` / ``valid`` / ``rejected``; a write's rows per status
    (``added``, ``updated``, ``skipped``, ``failed``, ``rejected``, ``unknown`` when not 0)
    and ``rows``. ``issues``: pre-flight problems as ``CODE-Field`` -> rows.
    """

    product: str
    module: str
    operation: str
    dry_run: bool
    jobs: int
    credits: int
    credits_needed: int
    counts: dict[str, int]
    issues: dict[str, int]
    rows_total: int
    row_results: list[dict[str, Any]]
    results_parquet: str | None = None
    results_table: str | None = None
    #: a dry run's invalid rows (``transforms.writeback.invalid_rows``): files and first lines
    invalid_rows_parquet: str | None = None
    invalid_rows_csv: str | None = None
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)
    invalid_rows_lines: int = 0
    children: list[WriteSummary] = field(default_factory=list)

    @property
    def modules(self) -> list[WriteSummary]:
        """This summary and its children's, parent first."""
        return [self, *self.children]

    def describe(self) -> str:
        """One line: mode, product, module(s), jobs and credits."""
        mode = "dry run" if self.dry_run else "bulk write"
        names = " + ".join(s.module for s in self.modules)
        return (
            f"{mode} of {self.product} {names} ({self.operation}): "
            f"{self.jobs} job(s), {self.credits_needed} credits"
        )


def attach_invalid_rows(
    summary: WriteSummary, issues: pa.Table, directory: Path, *, with_csv: bool
) -> None:
    """Write a dry run's invalid rows (``issues`` numbered in the source's order) to
    ``directory/{product}_{module}.parquet`` (and ``.csv``) and note them in ``summary``."""
    from transforms.writeback.invalid_rows import first_invalid, write_invalid_rows

    parquet = directory / f"{summary.product}_{summary.module}.parquet"
    files = write_invalid_rows(issues, parquet, with_csv=with_csv)
    summary.invalid_rows_parquet = str(files.parquet)
    summary.invalid_rows_csv = str(files.csv) if files.csv is not None else None
    summary.invalid_rows = first_invalid(issues, INVALID_ROWS_SHOWN)
    summary.invalid_rows_lines = files.lines


def dry_run_counts(preflight: dict[str, Any]) -> dict[str, int]:
    """``rows`` / ``valid`` / ``rejected`` from a `Preflight.summary`."""
    return {
        "rows": int(preflight.get("rows", 0)),
        "valid": int(preflight.get("valid_rows", preflight.get("valid", 0))),
        "rejected": int(preflight.get("invalid_rows", preflight.get("rejected", 0))),
    }


def row_table(results: pa.Table | None, issues: pa.Table | None) -> pa.Table:
    """Per input row: key, status, record id, message, errors (a dry run: its rejects)."""
    if results is not None:
        return results.select(["key", "status", "record_id", "message", "errors"])
    if issues is None:
        return pa.table({"key": [], "status": [], "record_id": [], "message": [], "errors": []})
    n = issues.num_rows
    messages = [
        f"{r['api_name']}: {r['code']} ({r['message']})"
        for r in issues.select(["api_name", "code", "message"]).to_pylist()
    ]
    return pa.table(
        {
            "key": issues["key"],
            "status": pa.repeat("REJECTED", n),
            "record_id": pa.nulls(n, pa.string()),
            "message": messages,
            "errors": pa.nulls(n, pa.null()),
        }
    )


def row_results(table: pa.Table) -> list[dict[str, Any]]:
    """The rows the UI shows: every row up to `PER_ROW_LIMIT`, else the first failed ones."""
    if table.num_rows > PER_ROW_LIMIT:
        failed = pc.is_in(table["status"], pa.array(sorted(FAILED_STATUSES)))
        table = table.filter(failed).slice(0, FIRST_FAILED)
    return [
        {
            "key": r["key"],
            "status": r["status"],
            "record id": r["record_id"],
            "reason": r["message"] or _error_codes(r["errors"]),
        }
        for r in table.to_pylist()
    ]


def _error_codes(errors: list[dict[str, Any]] | None) -> str:
    """``[{"code": "INVALID_DATA", "fields": ["Email"]}]`` -> ``INVALID_DATA (Email)``."""
    return "; ".join(
        f"{e['code']} ({', '.join(e['fields'])})" if e.get("fields") else str(e["code"])
        for e in errors or []
    )
