"""The printed summary of an end-to-end benchmark result (``bench.e2e``'s JSON document)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

VARIANT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("variant", "variant"),
    ("rows", "rows"),
    ("wall s", "wall_seconds"),
    ("blocked on Zoho s", "zoho_seconds"),
    ("poll latency s", "poll_latency_seconds"),
    ("client s", "client_work_seconds"),
    ("rows/s (client)", "rows_per_second_work"),
    ("s/M (client)", "seconds_per_million_work"),
    ("peak RSS MB", "peak_rss_mb"),
    ("credits", "credits_used"),
    ("credits/M", "credits_per_million"),
    ("HTTP calls", "http_calls"),
    ("polls/job", "polls_per_job_mean"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def format_report(document: dict[str, Any]) -> str:
    variants = document["variants"]
    config = document["config"]
    parts = [
        f"End-to-end benchmark: {config['records']:,} {config['product']} {config['module']}, "
        f"{config['per_page']:,} per page, Zoho job time {config['job_seconds']} s x "
        f"{config['time_scale']} = {config['scaled_job_seconds']} s; PostgreSQL: "
        f"{config['postgres']}",
        "",
        text_table(
            [h for h, _ in VARIANT_COLUMNS],
            [[v.get(key) for _, key in VARIANT_COLUMNS] for v in variants.values()],
        ),
        "",
        "Stages (seconds):",
    ]
    for name, variant in variants.items():
        stages = ", ".join(f"{k} {v:.2f}" for k, v in variant["stage_seconds"].items())
        parts.append(f"  {name}: {stages}")
    parts += _windows_lines(document.get("windows"))
    minimum = document["credit_minimum"]
    parts += [
        "",
        f"Credit minimum at {minimum['records']:,} records: {minimum['pages']} pages x "
        f"(50 create + 1 status + 1 download) = {minimum['total']} (target <= "
        f"{minimum['allowed']})",
        "",
        "Ratios: " + ", ".join(f"{k} {_cell(v)}" for k, v in document["ratios"].items()),
        "",
        text_table(
            ["target", "measured", "limit", "verdict", "what"],
            [
                [
                    t["name"],
                    t["measured"],
                    ("<= " if t["kind"] == "max" else ">= ") + _cell(t["limit"]),
                    t["verdict"],
                    t["description"],
                ]
                for t in document["targets"]
            ],
        ),
    ]
    return "\n".join(parts)


def _windows_lines(result: dict[str, Any] | None) -> list[str]:
    if not result:
        return []
    low, high = result["job_seconds_range"]
    lines = [
        "",
        f"Serial pages vs parallel Created_Time windows: Zoho job time 20-120 s x "
        f"{result['time_scale']} = {low}-{high} s, {result['jobs_at_once']} jobs at once",
    ]
    for name in ("serial", "parallel"):
        run = result[name]
        lines.append(
            f"  {name}: wall {run['wall_seconds']} s, Zoho busy {run['zoho_busy_seconds']} s, "
            f"client {run['client_work_seconds']} s, {run['bulk_jobs']} jobs, "
            f"{run['credits']} credits, rows {run['table_rows']:,} "
            f"(distinct {run['distinct_ids']:,}; simulator {result['simulator_count']:,})"
        )
    return lines
