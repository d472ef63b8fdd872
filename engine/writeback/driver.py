"""One call to validate, chunk, send, reconcile and store a bulk write: `write_table`.

The transport is anything with the four methods of `BulkWriter` (``connectors.bulk_write.
BulkWriteClient`` is one; tests may pass fakes), so this module stays free of HTTP and
of Prefect. Steps:

1. `preflight` renders and validates every row (zero credits); ``dry_run=True`` stops
   here and reports what would be sent and what it would cost (chunks planned from the
   row count, nothing zipped).
2. `build_chunks` zips the valid rows, at most 25,000 rows / 25 MB per job.
3. Per chunk: upload -> create job -> wait -> download result, with up to
   ``max_in_flight`` jobs submitted ahead of the one awaited (``engine.writeback.send``).
   With a `SavedWrite` every step is saved *before and after* it runs (each chunk's
   file id, job id and outcome in the ledger's ``write_chunks``; zips, row positions and
   results as files), so `resume_write` can continue after a crash without sending rows
   twice: a saved job id is polled, never re-created; a saved file id is reused.
4. `reconcile` joins the results back to every input row; the table goes to Parquet and
   the warehouse when asked.

`retry_failed_rows` re-sends only the rows a previous run reported FAILED (or REJECTED),
after the user fixed them in the source, and merges the new outcomes in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.credits import CRM_COSTS, CallType
from connectors.fields import FieldSpec
from engine.writeback.send import BulkWriter, ChunkSender, job_body
from engine.writeback.state import ChunkRun, SavedWrite, WriteMeta
from transforms.writeback.csv_builder import (
    MAX_ROWS_PER_CHUNK,
    Chunk,
    build_chunks,
    plan_chunks,
)
from transforms.writeback.errors import ResumeStateError
from transforms.writeback.mapping import WriteMapping
from transforms.writeback.reconcile import (
    RESULT_SCHEMA,
    ChunkOutcome,
    reconcile,
    summarize,
    write_results_parquet,
)
from transforms.writeback.sinks import write_results_warehouse
from transforms.writeback.validate import (
    Preflight,
    PreflightPolicy,
    enforce_policy,
    preflight,
)

__all__ = [
    "BulkWriter",
    "ChunkRun",
    "SavedWrite",
    "WriteReport",
    "job_body",
    "resume_write",
    "retry_failed_rows",
    "write_table",
]

#: Credits of one bulk write job (Zoho charges the create call; ``connectors.credits``).
BULK_WRITE_CREATE_CREDITS = CRM_COSTS[CallType.BULK_WRITE_CREATE]
#: Jobs submitted before the oldest is awaited. How many bulk write jobs Zoho runs at once
#: per org is UNCERTAIN (docs §8); 2 overlaps processing without piling up jobs.
DEFAULT_IN_FLIGHT = 2


@dataclass
class WriteReport:
    """The outcome of `write_table`: counts, chunks, the per-row table, where it went."""

    module: str
    operation: str
    dry_run: bool
    preflight: dict[str, Any]
    chunks: list[ChunkRun]
    credits_estimate: int
    results: pa.Table | None = None
    #: pre-flight issues (row, key, api_name, code, message), also on dry runs
    issues: pa.Table | None = None
    counts: dict[str, int] = field(default_factory=dict)
    parquet_path: str | None = None
    warehouse_table: str | None = None
    state_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the per-row table)."""
        return {
            "module": self.module,
            "operation": self.operation,
            "dry_run": self.dry_run,
            "preflight": self.preflight,
            "chunks": [asdict(c) for c in self.chunks],
            "credits_estimate": self.credits_estimate,
            "counts": self.counts,
            "parquet_path": self.parquet_path,
            "warehouse_table": self.warehouse_table,
            "state_dir": self.state_dir,
        }


def write_table(
    table: pa.Table,
    mapping: WriteMapping,
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    writer: BulkWriter | None = None,
    *,
    dry_run: bool = False,
    policy: PreflightPolicy | None = None,
    state: SavedWrite | None = None,
    results_parquet: str | Path | None = None,
    warehouse_url: str | None = None,
    results_table: str | None = None,
    max_rows_per_job: int = MAX_ROWS_PER_CHUNK,
    max_in_flight: int = DEFAULT_IN_FLIGHT,
    on_progress: Callable[[ChunkRun], None] | None = None,
    pre: Preflight | None = None,
    chunks: Sequence[Chunk] | None = None,
) -> WriteReport:
    """Validate ``table`` against ``fields`` and write it to Zoho through ``writer``.

    ``pre`` / ``chunks``: the pre-flight of ``table`` and the chunks built from it, when
    the caller has them already (each is computed once per write, never twice).

    ``dry_run`` validates and plans only (no writer needed, zero credits). Invalid rows
    are REJECTED and not sent (``policy.on_invalid="send_valid"``) or stop the run
    (``"stop"``, raising `InvalidRowsError`). Up to ``max_in_flight`` jobs are open at once.
    With ``state`` (ledger key + directory for the zips) the run can be resumed by
    `resume_write`. Results go to ``results_parquet`` and/or ``warehouse_url`` +
    ``results_table`` when given, and are always in ``WriteReport.results``.
    """
    if pre is None:
        pre = preflight(table, mapping, fields, policy)
    enforce_policy(pre, policy)
    if dry_run:
        planned = [
            ChunkRun(i, n, 0, "", state="planned")
            for i, n in enumerate(plan_chunks(pre, max_rows_per_job))
        ]
        return _report(mapping, pre, planned, dry_run=True, state=state)
    if writer is None:
        raise ValueError("write_table needs a writer unless dry_run=True")
    if state is not None:
        state.refuse_legacy()
    if chunks is None:
        chunks = build_chunks(pre, max_rows=max_rows_per_job)
    runs = [
        ChunkRun(c.index, c.row_count, c.zipped_size, hashlib.sha256(c.zip_bytes).hexdigest())
        for c in chunks
    ]
    report = _report(mapping, pre, runs, dry_run=False, state=state)
    if state is not None:
        state.start(_meta(mapping, pre, max_rows_per_job), chunks, runs)
    sender = ChunkSender(pre, mapping, writer, state, on_progress, max_in_flight)
    outcomes = sender.run(chunks, runs)
    return _finish(report, pre, outcomes, results_parquet, warehouse_url, results_table)


def resume_write(
    state: SavedWrite,
    table: pa.Table,
    mapping: WriteMapping,
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    writer: BulkWriter,
    *,
    policy: PreflightPolicy | None = None,
    job_ids: Mapping[int, str] | None = None,
    results_parquet: str | Path | None = None,
    warehouse_url: str | None = None,
    results_table: str | None = None,
    max_in_flight: int = DEFAULT_IN_FLIGHT,
    on_progress: Callable[[ChunkRun], None] | None = None,
    pre: Preflight | None = None,
) -> WriteReport:
    """Finish a write interrupted after upload or job creation; no row is sent twice.

    Chunks already done are read from the saved result; a saved job id is polled; a saved
    file id is turned into a job; only chunks never uploaded are uploaded. If a crash hit
    between sending create-job and saving its id, pass that chunk's job id in ``job_ids``
    (from Zoho's UI / your logs): guessing would risk writing the rows twice.
    """
    meta, runs = state.load()
    if pre is None:
        pre = preflight(table, mapping, fields, policy)
    where = state.directory
    if meta.mapping_digest != _mapping_digest(mapping, pre):
        raise ResumeStateError(where, "the mapping differs from the saved one")
    if meta.source_rows != pre.total_rows:
        raise ResumeStateError(
            where, f"the input has {pre.total_rows} rows, the saved write had {meta.source_rows}"
        )
    rebuilt = build_chunks(pre, max_rows=meta.max_rows)
    if [hashlib.sha256(c.zip_bytes).hexdigest() for c in rebuilt] != [r.sha256 for r in runs]:
        raise ResumeStateError(
            where, "the input rows differ from the ones the saved write was built from"
        )
    for index, job_id in (job_ids or {}).items():
        if not 0 <= index < len(runs):
            raise ResumeStateError(where, f"there is no chunk {index} to attach job {job_id}")
        runs[index].job_id = job_id
        runs[index].create_sent = True
        state.save(runs[index])
    chunks = state.zips(runs)
    report = _report(mapping, pre, runs, dry_run=False, state=state)
    sender = ChunkSender(pre, mapping, writer, state, on_progress, max_in_flight)
    outcomes = sender.run(chunks, runs)
    return _finish(report, pre, outcomes, results_parquet, warehouse_url, results_table)


def retry_failed_rows(
    table: pa.Table,
    previous: pa.Table,
    mapping: WriteMapping,
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    writer: BulkWriter,
    *,
    statuses: Sequence[str] = ("FAILED", "REJECTED"),
    policy: PreflightPolicy | None = None,
    state: SavedWrite | None = None,
    results_parquet: str | Path | None = None,
    warehouse_url: str | None = None,
    results_table: str | None = None,
) -> WriteReport:
    """Re-send only the rows ``previous`` marked with ``statuses``, from the fixed ``table``.

    ``table`` is the corrected source, in the same row order as the first run. The
    returned report's ``results`` is the previous table with the retried rows replaced by
    their new outcome, so it still covers every input row exactly once.
    """
    if table.num_rows != previous.num_rows:
        raise ValueError(
            f"the fixed table has {table.num_rows} rows but the previous results cover "
            f"{previous.num_rows}; keep the original row order and count"
        )
    pick = pc.is_in(previous.column("status"), value_set=pa.array(list(statuses)))
    positions = previous.column("row").filter(pick).to_numpy()
    subset = table.take(pa.array(positions, pa.int64()))
    report = write_table(subset, mapping, fields, writer, policy=policy, state=state)
    assert report.results is not None
    new = report.results
    mapped_rows = pa.array(positions[new.column("row").to_numpy()], pa.int64())
    new = new.set_column(0, "row", mapped_rows)
    kept = previous.filter(pc.invert(pick))
    merged = pa.concat_tables([kept.cast(RESULT_SCHEMA), new]).sort_by("row")
    report.results = merged
    report.counts = summarize(merged)
    report.preflight = dict(report.preflight, retried_rows=len(positions))
    _store(report, merged, results_parquet, warehouse_url, results_table)
    return report


# ------------------------------------------------------------------------------ internals


def _report(
    mapping: WriteMapping,
    pre: Preflight,
    runs: list[ChunkRun],
    *,
    dry_run: bool,
    state: SavedWrite | None,
) -> WriteReport:
    return WriteReport(
        module=mapping.module,
        operation=mapping.operation,
        dry_run=dry_run,
        preflight=pre.summary(),
        chunks=runs,
        credits_estimate=BULK_WRITE_CREATE_CREDITS * len(runs),
        issues=pre.issues,
        state_dir=str(state.directory) if state is not None else None,
    )


def _finish(
    report: WriteReport,
    pre: Preflight,
    outcomes: Sequence[ChunkOutcome],
    results_parquet: str | Path | None,
    warehouse_url: str | None,
    results_table: str | None,
) -> WriteReport:
    results = reconcile(pre, outcomes)
    report.results = results
    report.counts = summarize(results)
    _store(report, results, results_parquet, warehouse_url, results_table)
    return report


def _store(
    report: WriteReport,
    results: pa.Table,
    results_parquet: str | Path | None,
    warehouse_url: str | None,
    results_table: str | None,
) -> None:
    if results_parquet is not None:
        report.parquet_path = str(write_results_parquet(results, results_parquet))
    if warehouse_url is not None:
        name = results_table or f"writeback_{report.module.lower()}_results"
        write_results_warehouse(results, warehouse_url, name)
        report.warehouse_table = name


def _meta(mapping: WriteMapping, pre: Preflight, max_rows: int) -> WriteMeta:
    return WriteMeta(mapping.module, _mapping_digest(mapping, pre), pre.total_rows, max_rows)


def _mapping_digest(mapping: WriteMapping, pre: Preflight) -> str:
    body = json.dumps(
        {
            "module": mapping.module,
            "operation": mapping.operation,
            "find_by": mapping.find_by,
            "ignore_empty": mapping.ignore_empty,
            "field_mappings": list(pre.field_mappings),
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()
