"""Tables for people: ``zoho-etl status`` and the summaries printed after a run.

Uses ``rich``; nothing here calls Zoho or changes the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from engine.ledger import Ledger
from engine.settings import RunSettings
from engine.writeback.summary import WriteSummary


def make_console() -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


#: The status tables: (title, key in `status_data`, columns).
_STATUS_TABLES = (
    (
        "Recent extracts",
        "extracts",
        ("started", "product", "module", "kind", "method", "state", "rows", "credits", "window"),
    ),
    (
        "Recent bulk jobs",
        "jobs",
        (
            "updated",
            "module",
            "page",
            "state",
            "job_id",
            "records",
            "loaded",
            "rejected",
            "credits",
        ),
    ),
    (
        "Watermarks (last Modified_Time loaded)",
        "watermarks",
        ("org", "product", "module", "modified_time", "ids_at_that_instant"),
    ),
)


def has_ledger(settings: RunSettings) -> bool:
    """False for a fresh data directory whose default DuckDB warehouse does not exist yet."""
    if settings.warehouse_url is not None and settings.warehouse_url.get_secret_value():
        return True
    return (settings.data_path / "warehouse.duckdb").exists()


def status_data(settings: RunSettings, *, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
    """Recent extracts, bulk jobs and the watermarks from the ledger, as plain values (UTC)."""
    if not has_ledger(settings):
        return {"extracts": [], "jobs": [], "watermarks": []}
    engine = sa.create_engine(settings.effective_warehouse_url)
    try:
        ledger = Ledger(engine)
        ledger.create_schema()
        extracts = [
            {
                "started": f"{e.started_at:%Y-%m-%d %H:%M:%S}",
                "product": e.product,
                "module": e.module,
                "kind": e.kind,
                "method": e.method,
                "state": e.state,
                "rows": e.rows_loaded,
                "credits": e.credits,
                "window": (
                    f"{e.window_start:%Y-%m-%d %H:%M}..{e.window_end:%Y-%m-%d %H:%M}"
                    if e.window_start and e.window_end
                    else e.reason
                ),
            }
            for e in ledger.recent_extracts(limit)
        ]
        jobs = [
            {
                "updated": f"{j.updated_at:%Y-%m-%d %H:%M:%S}",
                "module": f"{j.product}/{j.module}",
                "page": j.page,
                "state": j.state.value,
                "job_id": j.job_id,
                "records": j.record_count,
                "loaded": j.rows_loaded,
                "rejected": j.rows_rejected,
                "credits": j.credits,
            }
            for j in ledger.recent_jobs(limit)
        ]
        marks = [
            {
                "org": org,
                "product": product,
                "module": module,
                "modified_time": f"{wm.modified_time:%Y-%m-%d %H:%M:%S}",
                "ids_at_that_instant": len(wm.ids),
            }
            for org, product, module, wm in ledger.all_watermarks()
        ]
    finally:
        engine.dispose()
    return {"extracts": extracts, "jobs": jobs, "watermarks": marks}


def print_status(
    data: Mapping[str, Sequence[Mapping[str, Any]]], where: str, console: Console | None = None
) -> None:
    """Print `status_data` as three tables (or say there is nothing yet)."""
    console = console or make_console()
    if not any(data.values()):
        console.print(f"nothing yet: no extracts, jobs or watermarks in {where}")
        return
    for title, key, columns in _STATUS_TABLES:
        table = Table(title=f"{title} (UTC)" if key != "watermarks" else title)
        for name in columns:
            table.add_column(name)
        for row in data[key]:
            table.add_row(*(_n(row.get(c)) for c in columns))
        console.print(table)


def _n(value: object) -> str:
    return "-" if value is None else str(value)


def print_rows(
    title: str, rows: Sequence[Mapping[str, Any]], console: Console | None = None
) -> None:
    """Print result rows (as the flows return them) as a table."""
    console = console or make_console()
    table = Table(title=title)
    if not rows:
        console.print(f"{title}: nothing to do")
        return
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)


def print_summary(
    as_json: bool,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    failed: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """The run's summary: a table, or with ``--json`` one JSON document on stdout."""
    if as_json:
        document = {
            "command": title,
            "ok": failed is None,
            "exit_code": int(failed or 0),
            "rows": list(rows),
            **(extra or {}),
        }
        print(json.dumps(document, default=str), flush=True)
        return
    print_rows(title, rows)


# ---- commands -------------------------------------------------------------------------------


def print_write_summary(as_json: bool, product: str, dry_run: bool, summary: WriteSummary) -> None:
    """The write's counts: the module's, then each child module's of a parent/child write."""
    kind = "dry run" if dry_run else "bulk write"
    parts: list[dict[str, Any]] = [
        {
            "title": f"{kind} {product} {part.module} "
            f"({part.jobs} job(s), {part.credits_needed} credits)",
            "module": part.module,
            "counts": [{"status": k, "rows": v} for k, v in part.counts.items()],
            "issues": [{"error": k, "rows": v} for k, v in part.issues.items()],
            "results_parquet": part.results_parquet,
            **_invalid_rows(part),
        }
        for part in summary.modules
    ]
    first, children = parts[0], parts[1:]
    extra = {
        "issues": first["issues"],
        "results_parquet": first["results_parquet"],
        **{k: v for k, v in first.items() if k.startswith("invalid_rows")},
        "children": children,
    }
    print_summary(as_json, first["title"], first["counts"], extra=extra)
    if as_json:
        return
    for index, part in enumerate(parts):
        if index:
            print_rows(part["title"], part["counts"])
        if part["issues"]:
            print_rows(f"invalid {part['module']} rows per error", part["issues"])
        if part["results_parquet"]:
            print(f"per-row results: {part['results_parquet']}")
        if part.get("invalid_rows_parquet"):
            _print_invalid_rows(part)


def _invalid_rows(part: WriteSummary) -> dict[str, Any]:
    """A dry run's invalid-rows files and first lines (nothing for a write)."""
    if part.invalid_rows_parquet is None:
        return {}
    return {
        "invalid_rows_parquet": part.invalid_rows_parquet,
        "invalid_rows_csv": part.invalid_rows_csv,
        "invalid_rows": part.invalid_rows,
        "invalid_rows_lines": part.invalid_rows_lines,
    }


def _print_invalid_rows(part: Mapping[str, Any]) -> None:
    """The first invalid rows as a table, then where all of them are."""
    shown: list[dict[str, Any]] = part["invalid_rows"]
    rows = sum(row["rows"] for row in part["counts"] if row["status"] == "rejected")
    if shown:
        print_rows(
            f"first {len(shown)} of {part['invalid_rows_lines']} problems "
            f"({rows} invalid {part['module']} rows)",
            [
                {
                    "row": line["row"],
                    "key": line["key"],
                    "column": line["column"] or "-",
                    "value": _clip(line["value"]),
                    "reason": f"{line['code']}: {line['reason']}",
                }
                for line in shown
            ],
        )
    files = [part["invalid_rows_parquet"], part.get("invalid_rows_csv")]
    print(f"invalid rows: {' and '.join(f for f in files if f)}")


def _clip(value: str | None, width: int = 40) -> str:
    if value is None:
        return "(empty)"
    return value if len(value) <= width else f"{value[: width - 3]}..."
