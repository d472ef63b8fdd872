"""A parent/child write-back from a mapping file with ``children`` (CRM only).

The parent's rows come from the write's source; each child's from the ``source`` its
entry in the mapping names (a Parquet path, ``table:NAME`` or ``sql:...``, like the
parent's). Pre-flight covers every module (including Zoho's 200-rows-per-parent subform
limit, checked before sending); a dry run stops there. The parents are cut into batches
of at most 25,000 rows per CSV (a parent's children always travel with it), one bulk
write job each, whose progress is saved in the ledger (``engine.writeback.state``) under a key of
the mapping and the rows' content, so a run killed after the upload or after the job was
created resumes the same job with the same file, sending nothing twice. The per-row
results of every module go to Parquet and to a warehouse table each.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext

import pyarrow as pa

from connectors.credits import CallType
from engine.errors import UsageError
from engine.failpoints import failpoint
from engine.modules import validate_module
from engine.runtime import Runtime
from engine.writeback.parent_child import ChildWrite, ParentChildReport, write_parent_child
from engine.writeback.parent_child_batches import merge_batches, plan_batches
from engine.writeback.source import read_source
from engine.writeback.state import ChunkRun, WriteChunks
from engine.writeback.summary import WriteSummary, attach_invalid_rows, row_results, row_table
from transforms.writeback import (
    ParentChildMapping,
    PreflightPolicy,
    load_parent_child_mapping,
    write_results_parquet,
)
from transforms.writeback.row_order import content_digest, content_order

log = logging.getLogger("engine.writeback.run_parent_child")


def parent_child_write_key(mapping: ParentChildMapping, tables: list[pa.Table]) -> str:
    """The ledger key of a parent/child write: its mapping and its rows (any order)."""
    digest = hashlib.sha256(repr(mapping).encode())
    for table in tables:
        digest.update(content_digest(table).encode())
    return f"pc-{digest.hexdigest()[:40]}"


def run_parent_child_write(
    rt: Runtime,
    product: str,
    mapping_path: str,
    source: str,
    dry_run: bool,
    policy: PreflightPolicy,
    attach_jobs: Mapping[int, str] | None = None,
    invalid_rows_csv: bool = False,
) -> WriteSummary:
    """Validate (and unless ``dry_run``, write) a parent table and its children; a dry run
    writes each module's invalid rows as a single-module one does."""
    from connectors.bulk_write import BulkWriteClient
    from engine.writeback.run import bulk_write_job_cost, invalid_rows_dir, store_results

    if product != "crm":
        raise UsageError(
            f"{mapping_path}: parent/child writes are CRM only (Recruit's bulk write takes "
            "one CSV per zip and no subforms)"
        )
    mapping = load_parent_child_mapping(mapping_path)
    validate_module(product, mapping.parent.module)
    sources = [source]
    for child in mapping.children:
        if child.source is None:
            raise UsageError(
                f"{mapping_path}: child {child.mapping.module} names no source "
                "(add 'source: table:NAME', a Parquet path or 'sql:SELECT ...')"
            )
        sources.append(child.source)
    given = [read_source(rt, s) for s in sources]
    orders = [content_order(t) for t in given]
    tables = [t.take(pa.array(o, pa.int64())) for t, o in zip(given, orders, strict=True)]
    modules = [mapping.parent.module, *(c.mapping.module for c in mapping.children)]
    for module in modules:
        rt.forget_fields(product, module)
    parent_fields = rt.fields(product, mapping.parent.module)
    child_fields = [rt.fields(product, c.mapping.module) for c in mapping.children]
    job_cost = bulk_write_job_cost(rt, product)
    plan = plan_batches(tables, mapping)
    key = parent_child_write_key(mapping, tables)
    ledger = WriteChunks(rt.ledger)
    saved = {} if dry_run else _saved_runs(ledger, key, mapping, attach_jobs)
    credits: AbstractContextManager[None] = nullcontext()  # the new jobs' creates, prepaid
    if not dry_run:
        new_jobs = len(plan) - len(saved)
        if new_jobs:
            what = f"bulk-write {product} {' + '.join(modules)} ({new_jobs} jobs)"
            credits = rt.prepaid(product, CallType.BULK_WRITE_CREATE, new_jobs, what)
        if saved:
            log.info("resuming the parent/child write %s (%d jobs saved)", key, len(saved))
    writer = None if dry_run else BulkWriteClient.for_client(rt.client(product))

    def on_progress(run: ChunkRun) -> None:
        ledger.save(key, mapping.parent.module, run)
        if run.state == "uploaded":
            failpoint("write-uploaded", mapping.parent.module, run.index + 1)
        if run.state == "created":
            failpoint("write-job-created", mapping.parent.module, run.index + 1)

    reports = []
    with credits:
        for index, positions in enumerate(plan):
            batch = [
                t.take(pa.array(p, pa.int64())) for t, p in zip(tables, positions, strict=True)
            ]
            children = [
                ChildWrite(table, child.mapping, specs, child.parent_key)
                for table, child, specs in zip(
                    batch[1:], mapping.children, child_fields, strict=True
                )
            ]
            report = write_parent_child(
                batch[0], mapping.parent, parent_fields, children, writer,
                parent_key=mapping.parent_key, dry_run=dry_run, policy=policy,
                saved=saved.get(index), on_progress=on_progress, job_index=index,
            )  # fmt: skip
            reports.append(report)
    merged = merge_batches(reports, plan, orders, dry_run=dry_run)
    summary = _summaries(product, mapping, merged, job_cost, len(plan), dry_run=dry_run)
    if dry_run:
        directory = invalid_rows_dir(rt.settings)
        for part in summary.modules:
            issues = merged.issues[part.module]
            attach_invalid_rows(part, issues, directory, with_csv=invalid_rows_csv)
        return summary
    results_dir = rt.settings.data_path / "writeback" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for part in summary.modules:
        parquet = results_dir / f"{product}_{part.module}.parquet"
        part.results_parquet = str(write_results_parquet(merged.results[part.module], parquet))
        part.results_table = store_results(rt, product, part.module, parquet)
    return summary


def _saved_runs(
    ledger: WriteChunks,
    key: str,
    mapping: ParentChildMapping,
    attach_jobs: Mapping[int, str] | None,
) -> dict[int, ChunkRun]:
    """The saved progress of each job, with ``--attach-job N=ID`` applied."""
    saved = {run.index: run for run in ledger.load(key)}
    for index, job_id in (attach_jobs or {}).items():
        run = saved.get(index)
        if run is None:
            raise UsageError(
                f"there is no job {index} in a saved parent/child write of "
                f"{mapping.parent.module} with these rows to attach {job_id} to"
            )
        run.job_id, run.create_sent = job_id, True
        ledger.save(key, mapping.parent.module, run)
    return saved


def _summaries(
    product: str,
    mapping: ParentChildMapping,
    merged: ParentChildReport,
    job_cost: int,
    jobs: int,
    *,
    dry_run: bool,
) -> WriteSummary:
    """The parent's summary, with one per child module under ``children``."""
    parts = []
    for n, module in enumerate(merged.modules):
        issues = merged.issues[module]
        table = row_table(None if dry_run else merged.results[module], issues)
        by_code: dict[str, int] = {}
        for code, field in zip(issues["code"].to_pylist(), issues["api_name"].to_pylist(),
                               strict=True):  # fmt: skip
            by_code[f"{code}-{field}"] = by_code.get(f"{code}-{field}", 0) + 1
        parts.append(
            WriteSummary(
                product=product,
                module=module,
                operation=mapping.parent.operation,
                dry_run=dry_run,
                jobs=0 if n else jobs,
                credits=0 if dry_run or n else job_cost * jobs,
                credits_needed=0 if n else job_cost * jobs,
                counts=dict(merged.counts[module]),
                issues=dict(sorted(by_code.items())),
                rows_total=table.num_rows,
                row_results=row_results(table),
            )
        )
    parent, *children = parts
    parent.children = children
    return parent
