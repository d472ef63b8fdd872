"""The write-back flow: a source table + a mapping file -> dry-run or a real bulk write.

Sources (``source``): a Parquet file or directory (``path/to/rows.parquet``), a warehouse
table (``table:crm_Leads_new``) or a SQL query against the warehouse (``sql:SELECT ...``).
The dry run validates every row against the module's field metadata and costs no write
credits; the real run spends 500 credits per job (checked against the budget first), sends
only valid rows, and stores the per-row result table (ADDED / UPDATED / SKIPPED / FAILED /
REJECTED with Zoho's errors) as Parquet and as a warehouse table.
A killed write resumes from its state directory without sending rows twice.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import FAILED_STATUSES, FIRST_FAILED, PER_ROW_LIMIT, publish_write_artifacts
from flows.blocks import WarehouseSettings, ZohoCredentials
from flows.errors import SourceError, UsageError
from flows.failpoints import failpoint
from flows.modules import ProductName, validate_module, validate_product
from flows.run_logging import forward_library_logs
from flows.runtime import Runtime, runtime_for
from flows.settings import RunSettings, ZohoConnection
from flows.zoho import flow_connection, flow_settings

if TYPE_CHECKING:
    from transforms.writeback import ChunkRun, WriteMapping, WriteReport

log = logging.getLogger("flows.writeback")

OnInvalid = Literal["send_valid", "stop"]


def read_source(rt: Runtime, source: str) -> pa.Table:
    """The rows to write, from a Parquet path, ``table:NAME`` or ``sql:QUERY``."""
    if source.startswith("table:"):
        name = source.removeprefix("table:").strip()
        if not name.replace("_", "").isalnum():
            raise SourceError(source, "table names are letters, digits and underscores")
        return _query(rt, source, f'SELECT * FROM "{name}"')
    if source.startswith("sql:"):
        return _query(rt, source, source.removeprefix("sql:"))
    path = Path(source)
    if not path.exists():
        raise SourceError(source, "no such file or directory")
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SourceError(source, f"not a Parquet file or dataset ({exc})") from None


def _query(rt: Runtime, source: str, sql: str) -> pa.Table:
    """One read-only SELECT on the warehouse (``transforms.writeback.sql_source``)."""
    from transforms.writeback.sql_source import SourceQueryError, read_duckdb, read_postgres

    try:
        with rt.load_lock:
            if rt.warehouse.dialect == "duckdb":
                return read_duckdb(rt.warehouse.connection, sql)  # type: ignore[attr-defined]
            return read_postgres(rt.ledger.engine, sql)
    except SourceQueryError as exc:
        raise SourceError(source, exc.problem) from None


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
    from transforms.writeback import (
        PreflightPolicy,
        load_mapping,
        resume_write,
        write_results_parquet,
        write_table,
    )
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


bulk_write_task = task(name="bulk-write", cache_policy=NO_CACHE)(run_write)


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


@flow(
    name="zoho-write-back",
    description="Validate rows against a module's fields and bulk-write them into Zoho.",
)
def writeback_flow(
    product: ProductName,
    mapping_path: str,
    source: str,
    dry_run: bool = True,
    on_invalid: OnInvalid = "send_valid",
    credentials: ZohoCredentials | None = None,
    warehouse: WarehouseSettings | None = None,
    attach_jobs: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Validate rows against the module's field metadata and, unless a dry run, write them.

    Args:
        product: Which Zoho product the module belongs to.
        mapping_path: The mapping file (YAML): module, operation, key and fields, relative
            to the working directory of the run.
        source: The rows: a Parquet file or directory, table:NAME (a warehouse table) or
            sql:SELECT ... (a query on the warehouse).
        dry_run: Validate only: no upload, no write credits (500 per bulk-write job).
        on_invalid: send_valid writes the valid rows and reports the others as REJECTED;
            stop sends nothing when any row is invalid.
        credentials: The ZohoCredentials block of the organisation. Empty: the worker's
            ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET / ZOHO_REFRESH_TOKEN variables.
        warehouse: A Zoho ETL Warehouse block (URL and data directory). Empty: the worker's
            ZOHO_ETL_WAREHOUSE_URL / ZOHO_ETL_DATA_DIR, else a DuckDB file under ./data.
        attach_jobs: Only to finish a write whose job id a crash lost: chunk number -> the
            bulk write job id Zoho's import history shows for it.
    """
    forward_library_logs()
    product = validate_product(product)
    settings = flow_settings(warehouse)
    connection = flow_connection(credentials)
    name = "bulk-write (dry run)" if dry_run else "bulk-write"
    summary: dict[str, Any] = bulk_write_task.with_options(task_run_name=name)(
        connection, settings, product, mapping_path, source, dry_run, on_invalid, attach_jobs
    )
    publish_write_artifacts(summary)
    log.info(_describe(summary))
    return summary


def _describe(summary: dict[str, Any]) -> str:
    mode = "dry run" if summary["dry_run"] else "bulk write"
    return (
        f"{mode} of {summary['product']} {summary['module']} ({summary['operation']}): "
        f"{summary['jobs']} job(s), {summary['credits_needed']} credits"
    )


# ---- the demo's write-back ----------------------------------------------------------------

DEMO_MAPPING = """\
module: Leads
operation: insert
key: lead_no
fields:
  - {source: last_name, api_name: Last_Name}
  - {source: company, api_name: Company}
  - {source: email, api_name: Email}
  - {source: status, api_name: Lead_Status, values: {N: Not Contacted, Q: Qualified}}
  - {api_name: Lead_Source, default: Trade Show}
  - {source: rating, api_name: Rating, default: Active}
"""


def demo_rows() -> pa.Table:
    """Twenty new Leads; rows 5, 11 and 17 are deliberately invalid."""
    rows = []
    for i in range(1, 21):
        rows.append(
            {
                "lead_no": f"L-{i:03d}",
                "last_name": f"Writeback {i}",
                "company": f"Demo Company {i}",
                "email": f"lead{i}@example.com",
                "status": "Q" if i % 2 else "N",
                "rating": None if i % 3 else "Acquired",
            }
        )
    rows[4]["last_name"] = None  # mandatory Last_Name missing
    rows[10]["email"] = "not-an-email"  # invalid email
    rows[16]["rating"] = "Fantastic"  # not a Rating picklist value
    return pa.Table.from_pylist(rows)
