"""One write-back from a source and a mapping file: validate, and unless it is a dry run,
spend the budget, send through the driver and store the per-row results.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.errors import UsageError
from engine.failpoints import failpoint
from engine.modules import validate_module
from engine.runtime import Runtime, runtime_for
from engine.settings import RunSettings, ZohoConnection

if TYPE_CHECKING:
    from engine.writeback.driver import ChunkRun, WriteReport
    from transforms.writeback import WriteMapping
from engine.writeback.source import read_source

#: A write-back's per-row results up to this many rows are a table artifact; a bigger
#: result is summarised by its Parquet path and the first `FIRST_FAILED` failed rows.
PER_ROW_LIMIT = 200


FIRST_FAILED = 20


FAILED_STATUSES = frozenset({"FAILED", "REJECTED", "UNKNOWN"})


log = logging.getLogger("engine.writeback.run")


def state_dir_for(settings: RunSettings, mapping: WriteMapping, table: pa.Table) -> Path:
    """Where a write keeps its resumable state: one directory per (mapping, rows).

    Keyed by the rows' content, not their order (``transforms.writeback.row_order``): a
    re-run after a crash finds the saved write even if the source returns its rows in
    another order (``ORDER BY random()``, a warehouse scan).
    """
    from transforms.writeback.row_order import content_digest

    digest = hashlib.sha256(repr(mapping).encode())
    digest.update(content_digest(table).encode())
    return settings.data_path / "writeback" / mapping.module / digest.hexdigest()[:16]


def run_write(
    connection: ZohoConnection,
    settings: RunSettings,
    product: str,
    mapping_path: str,
    source: str,
    dry_run: bool,
    on_invalid: str = "send_valid",
    attach_jobs: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Validate (and unless ``dry_run``, write) ``source`` with the mapping; a summary dict.

    The rows are written in content order (`content_order`), so a killed write re-run on
    the same rows in any order resumes its saved state and sends nothing twice; the per-row
    results are numbered in the source's order. ``attach_jobs`` (chunk -> job id) names
    jobs whose create call was sent but whose id was lost in a crash.
    """
    from connectors.bulk_write import BulkWriteClient
    from engine.writeback.driver import resume_write, write_table
    from transforms.writeback import PreflightPolicy, load_mapping, write_results_parquet
    from transforms.writeback.row_order import content_order

    if on_invalid not in {"send_valid", "stop"}:
        raise UsageError(f"on_invalid {on_invalid!r}: choose send_valid or stop")
    rt = runtime_for(connection, settings)
    mapping = load_mapping(mapping_path)
    validate_module(product, mapping.module)
    source_table = read_source(rt, source)
    order = content_order(source_table)
    table = source_table.take(pa.array(order, pa.int64()))
    rt.forget_fields(product, mapping.module)
    fields = rt.fields(product, mapping.module)
    policy = PreflightPolicy(on_invalid=on_invalid)  # type: ignore[arg-type]
    plan: WriteReport = write_table(table, mapping, fields, dry_run=True, policy=policy)
    if dry_run:
        return _summary(product, plan, dry_run=True)
    state_dir = state_dir_for(settings, mapping, table)
    results_dir = settings.data_path / "writeback" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    parquet = results_dir / f"{product}_{mapping.module}.parquet"
    writer = BulkWriteClient.for_client(rt.client(product))

    def on_progress(run: ChunkRun) -> None:
        if run.state == "created":
            failpoint("write-job-created", mapping.module, run.index + 1)

    if (state_dir / "manifest.json").exists() or attach_jobs:
        log.info("resuming the write-back saved in %s", state_dir)
        report = resume_write(
            state_dir,
            table,
            mapping,
            fields,
            writer,
            policy=policy,
            job_ids=attach_jobs,
            on_progress=on_progress,
        )
    else:
        rt.budget.spend(
            plan.credits_estimate,
            f"bulk-write {product} {mapping.module} ({len(plan.chunks)} jobs)",
        )
        report = write_table(
            table, mapping, fields, writer, policy=policy, state_dir=state_dir,
            on_progress=on_progress,
        )  # fmt: skip
    if report.results is not None:
        report.results = _in_source_order(report.results, order)
        report.parquet_path = str(write_results_parquet(report.results, parquet))
    summary = _summary(product, report, dry_run=False)
    summary["results_table"] = _store_results(rt, product, mapping.module, parquet)
    return summary


def _in_source_order(results: pa.Table, order: np.ndarray) -> pa.Table:
    """Number the per-row results by the rows' positions in the source, and sort by them."""
    rows = order[results.column("row").to_numpy()]
    column = results.schema.get_field_index("row")
    return results.set_column(column, "row", pa.array(rows, pa.int64())).sort_by("row")


def _store_results(rt: Runtime, product: str, module: str, parquet: Path) -> str | None:
    """The per-row results as a warehouse table ``writeback_{product}_{module}``."""
    name = f"writeback_{product}_{module}"
    if not parquet.exists():
        return None
    with rt.load_lock:
        if rt.warehouse.dialect == "duckdb":
            rt.warehouse.connection.execute(  # type: ignore[attr-defined]
                f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM read_parquet(?)',
                [str(parquet)],
            )
            return name
    from transforms.writeback import write_results_warehouse

    write_results_warehouse(pq.read_table(parquet), rt.settings.effective_warehouse_url, name)
    return name


def _summary(product: str, report: WriteReport, *, dry_run: bool) -> dict[str, Any]:
    counts = dict(report.counts)
    pre = report.preflight
    if dry_run:
        counts = {
            "rows": int(pre.get("rows", 0)),
            "valid": int(pre.get("valid_rows", pre.get("valid", 0))),
            "rejected": int(pre.get("invalid_rows", pre.get("rejected", 0))),
        }
    table = _row_table(report)
    return {
        "product": product,
        "module": report.module,
        "operation": report.operation,
        "dry_run": dry_run,
        "jobs": len(report.chunks),
        "credits": 0 if dry_run else report.credits_estimate,
        "credits_needed": report.credits_estimate,
        "counts": counts,
        "issues": pre.get("issues", {}),
        "results_parquet": report.parquet_path,
        "rows_total": table.num_rows,
        "row_results": row_results(table),
    }


def _row_table(report: WriteReport) -> pa.Table:
    """Per input row: key, status, record id, message, errors (a dry run: its rejects)."""
    if report.results is not None:
        return report.results.select(["key", "status", "record_id", "message", "errors"])
    issues = report.issues
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
