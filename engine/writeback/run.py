"""One write-back from a source and a mapping file: validate, and unless it is a dry run,
reserve its create calls (``Runtime.prepaid``), send through the driver and store the per-row
results.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.credits import CallType
from engine.errors import UsageError
from engine.failpoints import failpoint
from engine.modules import validate_module
from engine.runtime import Runtime, runtime_for
from engine.settings import RunSettings, ZohoConnection
from engine.writeback.source import read_source
from engine.writeback.summary import (
    FIRST_FAILED,
    PER_ROW_LIMIT,
    WriteSummary,
    attach_invalid_rows,
    dry_run_counts,
    row_results,
    row_table,
)

if TYPE_CHECKING:
    from engine.writeback.driver import ChunkRun, WriteReport
    from engine.writeback.state import SavedWrite
    from transforms.writeback import WriteMapping

log = logging.getLogger("engine.writeback.run")

__all__ = ["FIRST_FAILED", "PER_ROW_LIMIT", "WriteSummary", "row_results", "run_write"]


def write_key(mapping: WriteMapping, table: pa.Table) -> str:
    """The ledger key of a single-module write: its mapping and its rows (any order).

    Keyed by the rows' content, not their order (``transforms.writeback.row_order``): a
    re-run after a crash finds the saved write even if the source returns its rows in
    another order (``ORDER BY random()``, a warehouse scan).
    """
    from transforms.writeback.row_order import content_digest

    digest = hashlib.sha256(repr(mapping).encode())
    digest.update(content_digest(table).encode())
    return f"w-{digest.hexdigest()[:40]}"


def saved_write(rt: Runtime, mapping: WriteMapping, table: pa.Table) -> SavedWrite:
    """Where a write keeps its resumable state: ``write_chunks`` rows in the ledger under
    `write_key`, and the zips in ``writeback/<module>/<key>`` under the data path.
    """
    from engine.writeback.state import SavedWrite

    key = write_key(mapping, table)
    directory = rt.settings.data_path / "writeback" / mapping.module / key[2:18]
    return SavedWrite(rt.ledger, key, directory)


def run_write(
    connection: ZohoConnection,
    settings: RunSettings,
    product: str,
    mapping_path: str,
    source: str,
    dry_run: bool,
    on_invalid: str = "send_valid",
    attach_jobs: dict[int, str] | None = None,
    invalid_rows_csv: bool = False,
) -> WriteSummary:
    """Validate (and unless ``dry_run``, write) ``source`` with the mapping; its summary.

    The rows are written in content order (`content_order`), so a killed write re-run on
    the same rows in any order resumes its saved state and sends nothing twice; the per-row
    results are numbered in the source's order. ``attach_jobs`` (chunk -> job id) names
    jobs whose create call was sent but whose id was lost in a crash. A mapping with
    ``children`` is a parent/child write (``engine.writeback.run_parent_child``).
    Pre-flight runs once and each chunk is zipped once. A dry run writes its invalid rows to
    ``writeback/invalid/{product}_{module}.parquet`` under the data path (and a ``.csv`` when
    ``invalid_rows_csv``).
    """
    from connectors.bulk_write import BulkWriteClient
    from engine.writeback.driver import resume_write, write_table
    from transforms.writeback import (
        PreflightPolicy,
        build_chunks,
        has_children,
        load_mapping,
        preflight,
        write_results_parquet,
    )
    from transforms.writeback.row_order import content_order
    from transforms.writeback.validate import enforce_policy

    if on_invalid not in {"send_valid", "stop"}:
        raise UsageError(f"on_invalid {on_invalid!r}: choose send_valid or stop")
    rt = runtime_for(connection, settings)
    policy = PreflightPolicy(on_invalid=on_invalid)  # type: ignore[arg-type]
    if has_children(mapping_path):
        from engine.writeback.run_parent_child import run_parent_child_write

        return run_parent_child_write(rt, product, mapping_path, source, dry_run, policy,
                                      attach_jobs, invalid_rows_csv)  # fmt: skip
    mapping = load_mapping(mapping_path)
    validate_module(product, mapping.module)
    source_table = read_source(rt, source)
    order = content_order(source_table)
    table = source_table.take(pa.array(order, pa.int64()))
    state = saved_write(rt, mapping, table)
    if not dry_run:
        state.refuse_legacy()
    rt.forget_fields(product, mapping.module)
    fields = rt.fields(product, mapping.module)
    job_cost = bulk_write_job_cost(rt, product)
    pre = preflight(table, mapping, fields, policy, source_rows=order)
    if dry_run:
        plan = write_table(table, mapping, fields, dry_run=True, policy=policy, pre=pre)
        summary = _summary(product, plan, job_cost, dry_run=True)
        attach_invalid_rows(summary, in_source_order(pre.issues, order),
                            invalid_rows_dir(settings), with_csv=invalid_rows_csv)  # fmt: skip
        return summary
    results_dir = settings.data_path / "writeback" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    parquet = results_dir / f"{product}_{mapping.module}.parquet"
    writer = BulkWriteClient.for_client(rt.client(product))

    def on_progress(run: ChunkRun) -> None:
        if run.state == "uploaded":
            failpoint("write-uploaded", mapping.module, run.index + 1)
        if run.state == "created":
            failpoint("write-job-created", mapping.module, run.index + 1)

    if attach_jobs or state.chunks.load(state.key):
        log.info("resuming the write-back saved under ledger key %s", state.key)
        report = resume_write(
            state,
            table,
            mapping,
            fields,
            writer,
            policy=policy,
            job_ids=attach_jobs,
            on_progress=on_progress,
            pre=pre,
        )
    else:
        enforce_policy(pre, policy, source_rows=order)
        chunks = build_chunks(pre)
        what = f"bulk-write {product} {mapping.module} ({len(chunks)} jobs)"
        with rt.prepaid(product, CallType.BULK_WRITE_CREATE, len(chunks), what):
            report = write_table(
                table, mapping, fields, writer, policy=policy, state=state,
                on_progress=on_progress, pre=pre, chunks=chunks,
            )  # fmt: skip
    if report.results is not None:
        report.results = in_source_order(report.results, order)
        report.parquet_path = str(write_results_parquet(report.results, parquet))
    summary = _summary(product, report, job_cost, dry_run=False)
    summary.results_table = store_results(rt, product, mapping.module, parquet)
    return summary


def invalid_rows_dir(settings: RunSettings) -> Path:
    """Where dry runs write their invalid rows."""
    return settings.data_path / "writeback" / "invalid"


def bulk_write_job_cost(rt: Runtime, product: str) -> int:
    """Credits of one bulk write job in this product (``connectors.credits``)."""
    return rt.client(product).product.credit_costs[CallType.BULK_WRITE_CREATE]


def in_source_order(results: pa.Table, order: np.ndarray) -> pa.Table:
    """Number per-row results (or issues) by the rows' positions in the source; sort by them."""
    rows = order[results.column("row").to_numpy()]
    column = results.schema.get_field_index("row")
    return results.set_column(column, "row", pa.array(rows, pa.int64())).sort_by("row")


def store_results(rt: Runtime, product: str, module: str, parquet: Path) -> str | None:
    """The per-row results as a warehouse table ``writeback_{product}_{module}``."""
    from transforms.writeback import write_results_warehouse

    name = f"writeback_{product}_{module}"
    if not parquet.exists():
        return None
    with rt.load_lock:
        write_results_warehouse(pq.read_table(parquet), rt.warehouse, name)
    return name


def _summary(product: str, report: WriteReport, job_cost: int, *, dry_run: bool) -> WriteSummary:
    pre = report.preflight
    counts = dry_run_counts(pre) if dry_run else dict(report.counts)
    table = row_table(report.results, report.issues)
    needed = job_cost * len(report.chunks)
    return WriteSummary(
        product=product,
        module=report.module,
        operation=report.operation,
        dry_run=dry_run,
        jobs=len(report.chunks),
        credits=0 if dry_run else needed,
        credits_needed=needed,
        counts=counts,
        issues=pre.get("issues", {}),
        rows_total=table.num_rows,
        row_results=row_results(table),
        results_parquet=report.parquet_path,
    )
