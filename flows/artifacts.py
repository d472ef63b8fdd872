"""Prefect artifacts with stable keys, so the UI's Artifacts page shows each one's history.

Keys (lowercase, digits and dashes, as Prefect requires):

================================  ==============================================================
``export-{product}``              table, one per run: per module the method, rows loaded,
                                  rejects, deletions, bulk jobs, credits and seconds
``backfill-{product}-{module}``   table: each window, skipped or loaded, rows and credits
``drift-{product}-{module}``      markdown: the schema drift report of the module's last load
``rejects-{product}-{module}``    table: rejected row counts and where the rejects file is
``progress-{product}-{module}``   progress, one per module and run, updated in place as pages
                                  (or backfill windows) finish; 100% when the module is done
``write-{product}-{module}``      table, one row: operation, jobs, credits, count per status
``write-rows-{product}-{module}`` table: per input row the key, status, record id and reason;
                                  past `PER_ROW_LIMIT` rows, markdown: the per-row Parquet's
                                  path and the first rows that failed
================================  ==============================================================

Artifacts only make sense inside a flow run; outside one (plain-function tests, library use)
every function here returns without doing anything.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from engine.summary import ModuleSummary
from engine.writeback.summary import PER_ROW_LIMIT, WriteSummary

log = logging.getLogger("flows.artifacts")


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from free text: ``("drift", "crm", "Leads")`` -> drift-crm-leads."""
    raw = "-".join(parts).lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")


def _in_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def publish_export_table(product: str, summaries: Sequence[ModuleSummary]) -> None:
    if not _in_run() or not summaries:
        return
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=[s.as_row() for s in summaries],
        key=artifact_key("export", product),
        description=f"Rows, rejects, deletions, credits and duration per {product} module",
    )


def publish_module_details(summary: ModuleSummary) -> None:
    """Drift report and rejects of one module, when there is something to show."""
    if not _in_run():
        return
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    if summary.drift:
        create_markdown_artifact(
            markdown=_drift_markdown(summary.module, summary.drift),
            key=artifact_key("drift", summary.product, summary.module),
            description=f"Schema drift of {summary.product} {summary.module}",
        )
    if summary.rows_rejected or summary.rejects_paths:
        create_table_artifact(
            table=[
                {
                    "module": summary.module,
                    "rows read": summary.rows_read,
                    "rows rejected": summary.rows_rejected,
                    "rejects files": ", ".join(summary.rejects_paths) or "-",
                }
            ],
            key=artifact_key("rejects", summary.product, summary.module),
            description=f"Rows of {summary.product} {summary.module} that could not be loaded",
        )


def _drift_markdown(module: str, reports: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"# Schema drift: {module}", ""]
    for report in reports:
        lines.append("```json")
        lines.append(json.dumps(report, indent=2, sort_keys=True, default=str))
        lines.append("```")
    return "\n".join(lines)


class Progress:
    """A progress artifact for one module, updated as pages complete and jobs are polled."""

    def __init__(self, product: str, module: str, what: str) -> None:
        self.key = artifact_key("progress", product, module)
        self.what = what
        self._id: UUID | None = None
        if _in_run():
            from prefect.artifacts import create_progress_artifact

            try:
                created = create_progress_artifact(progress=0.0, key=self.key, description=what)
                self._id = created if isinstance(created, UUID) else None
            except Exception:  # progress is cosmetic: never fail a run over it
                log.debug("could not create progress artifact %s", self.key, exc_info=True)

    def update(self, fraction: float, description: str) -> None:
        if self._id is None:
            return
        from prefect.artifacts import update_progress_artifact

        try:
            update_progress_artifact(
                artifact_id=self._id,
                progress=max(0.0, min(fraction, 1.0)) * 100.0,
                description=f"{self.what}: {description}",
            )
        except Exception:  # cosmetic, see above
            log.debug("could not update progress artifact %s", self.key, exc_info=True)


def publish_table(key: str, rows: Sequence[Mapping[str, Any]], description: str) -> None:
    if not _in_run() or not rows:
        return
    from prefect.artifacts import create_table_artifact

    create_table_artifact(table=[dict(r) for r in rows], key=key, description=description)


def publish_write_artifacts(summary: WriteSummary) -> None:
    """The summary table and the per-row table (or pointer) of one module's write-back."""
    if not _in_run():
        return
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    product, module = summary.product, summary.module
    mode = "dry run" if summary.dry_run else "bulk write"
    head = {
        "mode": mode,
        "operation": summary.operation,
        "jobs": summary.jobs,
        "credits": summary.credits,
        **summary.counts,
    }
    create_table_artifact(
        table=[head],
        key=artifact_key("write", product, module),
        description=f"{mode} of {product} {module}: rows per status, jobs and credits",
    )
    rows = summary.row_results
    total = summary.rows_total
    key = artifact_key("write-rows", product, module)
    if total <= PER_ROW_LIMIT:
        if rows:
            create_table_artifact(
                table=rows,
                key=key,
                description=f"{mode} of {product} {module}: the outcome of every row",
            )
        return
    failed = rows  # past the limit, the summary keeps only the first failed rows
    lines = [
        f"# {mode} of {product} {module}: {total} rows",
        "",
        f"Every row's key, status, record id and reason: `{summary.results_parquet}`"
        f" (warehouse table `{summary.results_table or '-'}`).",
        "",
        f"First {len(failed)} rows that failed or were rejected:" if failed else "No row failed.",
        "",
    ]
    if failed:
        columns = list(failed[0])
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in failed:
            cells = (_md_cell(row.get(c)) for c in columns)
            lines.append("| " + " | ".join(cells) + " |")
    create_markdown_artifact(
        markdown="\n".join(lines),
        key=key,
        description=f"{mode} of {product} {module}: where the per-row results are",
    )


def _md_cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
