"""Tables for people: ``zoho-etl status`` and the summaries printed after a run.

Uses ``rich``; nothing here calls Zoho or changes the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from engine.ledger import Ledger
from engine.settings import RunSettings


def make_console() -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def print_status(settings: RunSettings, *, limit: int = 20, console: Console | None = None) -> None:
    """Print recent extracts, bulk jobs and the watermarks from the ledger."""
    console = console or make_console()
    engine = sa.create_engine(settings.effective_warehouse_url)
    try:
        ledger = Ledger(engine)
        ledger.create_schema()
        extracts = Table(title="Recent extracts")
        for name in (
            "started (UTC)",
            "product",
            "module",
            "kind",
            "method",
            "state",
            "rows",
            "credits",
            "window / reason",
        ):
            extracts.add_column(name)
        for e in ledger.recent_extracts(limit):
            window = (
                f"{e.window_start:%Y-%m-%d %H:%M}..{e.window_end:%Y-%m-%d %H:%M}"
                if e.window_start and e.window_end
                else e.reason
            )
            extracts.add_row(
                f"{e.started_at:%Y-%m-%d %H:%M:%S}",
                e.product,
                e.module,
                e.kind,
                e.method,
                e.state,
                str(e.rows_loaded),
                str(e.credits),
                window,
            )
        console.print(extracts)
        jobs = Table(title="Recent bulk jobs")
        for name in (
            "updated (UTC)",
            "module",
            "page",
            "state",
            "job id",
            "records",
            "loaded",
            "rejected",
            "credits",
        ):
            jobs.add_column(name)
        for j in ledger.recent_jobs(limit):
            jobs.add_row(
                f"{j.updated_at:%Y-%m-%d %H:%M:%S}",
                f"{j.product}/{j.module}",
                str(j.page),
                j.state.value,
                j.job_id or "-",
                _n(j.record_count),
                _n(j.rows_loaded),
                _n(j.rows_rejected),
                str(j.credits),
            )
        console.print(jobs)
        marks = Table(title="Watermarks (last Modified_Time loaded)")
        for name in ("org", "product", "module", "modified_time (UTC)", "ids at that instant"):
            marks.add_column(name)
        for org, product, module, wm in ledger.all_watermarks():
            marks.add_row(
                org, product, module, f"{wm.modified_time:%Y-%m-%d %H:%M:%S}", str(len(wm.ids))
            )
        console.print(marks)
    finally:
        engine.dispose()


def _n(value: int | None) -> str:
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
