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
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import artifact_key, publish_table
from flows.errors import SourceError, UsageError
from flows.failpoints import failpoint
from flows.modules import validate_module, validate_product
from flows.runtime import Runtime, runtime_for
from flows.settings import RunSettings, ZohoConnection
from flows.zoho import resolve_connection, resolve_settings

if TYPE_CHECKING:
    from transforms.writeback import ChunkRun, WriteMapping, WriteReport

log = logging.getLogger("flows.writeback")

#: Result rows shown in the UI artifact (the full table is in Parquet and the warehouse).
ARTIFACT_ROWS = 50


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
    rows = []
    if report.results is not None:
        for row in report.results.slice(0, ARTIFACT_ROWS).to_pylist():
            rows.append({k: _cell(v) for k, v in row.items()})
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
        "result_rows": rows,
    }


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return value


@flow(name="zoho-write-back", description="Validate and bulk-write rows into a Zoho module.")
def writeback_flow(
    product: str,
    mapping_path: str,
    source: str,
    dry_run: bool = True,
    on_invalid: str = "send_valid",
    settings: RunSettings | None = None,
    credentials_block: str | None = None,
    simulator_url: str | None = None,
    sim_org: str | None = None,
    warehouse_block: str | None = None,
    attach_jobs: dict[int, str] | None = None,
) -> dict[str, Any]:
    product = validate_product(product)
    settings = resolve_settings(settings, warehouse_block)
    connection = resolve_connection(
        simulator_url=simulator_url, sim_org=sim_org, credentials_block=credentials_block
    )
    name = "bulk-write (dry run)" if dry_run else "bulk-write"
    summary: dict[str, Any] = bulk_write_task.with_options(name=name)(
        connection, settings, product, mapping_path, source, dry_run, on_invalid, attach_jobs
    )
    key = artifact_key("write", product, summary["module"])
    counts = [{"status": k, "rows": v} for k, v in summary["counts"].items()]
    publish_table(key, counts + summary["result_rows"], _describe(summary))
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
