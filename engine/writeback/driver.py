"""One call to validate, chunk, send, reconcile and store a bulk write: `write_table`.

The transport is anything with the four methods of `BulkWriter` (``connectors.bulk_write.
BulkWriteClient`` is one; tests may pass fakes), so this module stays free of HTTP and
of Prefect. Steps:

1. `preflight` renders and validates every row (zero credits); ``dry_run=True`` stops
   here and reports what would be sent and what it would cost (chunks planned from the
   row count, nothing zipped).
2. `build_chunks` zips the valid rows, at most 25,000 rows / 25 MB per job.
3. Per chunk: upload -> create job -> wait -> download result, with up to
   ``max_in_flight`` jobs submitted ahead of the one awaited. With ``state_dir`` every
   step is saved *before and after* it runs (zips, row positions, file id, job id,
   result), so `resume_write` can continue after a crash without sending rows twice:
   a saved job id is polled, never re-created; a saved file id is reused.
4. `reconcile` joins the results back to every input row; the table goes to Parquet and
   the warehouse when asked.

`retry_failed_rows` re-sends only the rows a previous run reported FAILED (or REJECTED),
after the user fixed them in the source, and merges the new outcomes in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.credits import CRM_COSTS, CallType
from connectors.fields import FieldSpec
from connectors.zipcheck import check_zip_bytes
from transforms.writeback.csv_builder import (
    MAX_ROWS_PER_CHUNK,
    Chunk,
    build_chunks,
    plan_chunks,
)
from transforms.writeback.errors import ChunkJobFailed, ResumeStateError
from transforms.writeback.mapping import WriteMapping
from transforms.writeback.reconcile import (
    RESULT_SCHEMA,
    ChunkOutcome,
    read_result_zip,
    reconcile,
    result_limits,
    summarize,
    upload_limits,
    write_results_parquet,
)
from transforms.writeback.sinks import write_results_warehouse
from transforms.writeback.validate import (
    Preflight,
    PreflightPolicy,
    enforce_policy,
    preflight,
)

log = logging.getLogger(__name__)

#: Credits of one bulk write job (Zoho charges the create call; ``connectors.credits``).
BULK_WRITE_CREATE_CREDITS = CRM_COSTS[CallType.BULK_WRITE_CREATE]
#: Jobs submitted before the oldest is awaited. How many bulk write jobs Zoho runs at once
#: per org is UNCERTAIN (docs §8); 2 overlaps processing without piling up jobs.
DEFAULT_IN_FLIGHT = 2
MANIFEST = "manifest.json"


class BulkWriter(Protocol):
    """The transport `write_table` needs (see ``connectors.bulk_write.BulkWriteClient``)."""

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        """Upload one zip; return Zoho's ``file_id``."""
        ...

    def create_job(self, body: Mapping[str, Any]) -> str:
        """Create a bulk write job from a request body; return the job id."""
        ...

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        """Poll until the job is COMPLETED or FAILED; return the job details JSON."""
        ...

    def download_result(self, download_url: str) -> bytes:
        """Fetch the result zip from its (absolute) download URL."""
        ...


@dataclass
class ChunkRun:
    """What happened to one chunk (saved in the state manifest)."""

    index: int
    rows: int
    zipped_bytes: int
    sha256: str
    file_id: str | None = None
    create_sent: bool = False
    job_id: str | None = None
    state: str = "built"  # built, uploaded, created, done, failed
    failure: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


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


def job_body(mapping: WriteMapping, pre: Preflight, file_id: str) -> dict[str, Any]:
    """The create-job request for one uploaded chunk."""
    resource: dict[str, Any] = {
        "type": "data",
        "module": {"api_name": mapping.module},
        "file_id": file_id,
        "field_mappings": [dict(m) for m in pre.field_mappings],
    }
    if mapping.find_by:
        resource["find_by"] = mapping.find_by
    return {
        "operation": mapping.operation,
        "ignore_empty": mapping.ignore_empty,
        "character_encoding": "UTF-8",
        "resource": [resource],
    }


def write_table(
    table: pa.Table,
    mapping: WriteMapping,
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    writer: BulkWriter | None = None,
    *,
    dry_run: bool = False,
    policy: PreflightPolicy | None = None,
    state_dir: str | Path | None = None,
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
    With ``state_dir`` the run can be resumed by
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
        return _report(mapping, pre, planned, dry_run=True, state_dir=state_dir)
    if writer is None:
        raise ValueError("write_table needs a writer unless dry_run=True")
    if chunks is None:
        chunks = build_chunks(pre, max_rows=max_rows_per_job)
    runs = [
        ChunkRun(c.index, c.row_count, c.zipped_size, hashlib.sha256(c.zip_bytes).hexdigest())
        for c in chunks
    ]
    report = _report(mapping, pre, runs, dry_run=False, state_dir=state_dir)
    state = (
        _State.create(state_dir, mapping, pre, chunks, runs, max_rows_per_job)
        if state_dir
        else None
    )
    driver = _Driver(pre, mapping, writer, state, on_progress, max_in_flight)
    outcomes = driver.run(chunks, runs)
    return _finish(report, pre, outcomes, results_parquet, warehouse_url, results_table)


def resume_write(
    state_dir: str | Path,
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
    state = _State.load(state_dir)
    if pre is None:
        pre = preflight(table, mapping, fields, policy)
    state.check_matches(mapping, pre)
    rebuilt = build_chunks(pre, max_rows=int(state.meta.get("max_rows", MAX_ROWS_PER_CHUNK)))
    if [hashlib.sha256(c.zip_bytes).hexdigest() for c in rebuilt] != [r.sha256 for r in state.runs]:
        raise ResumeStateError(
            state_dir, "the input rows differ from the ones the saved write was built from"
        )
    for index, job_id in (job_ids or {}).items():
        if not 0 <= index < len(state.runs):
            raise ResumeStateError(state_dir, f"there is no chunk {index} to attach job {job_id}")
        state.runs[index].job_id = job_id
        state.runs[index].create_sent = True
        state.save()
    chunks = state.chunks()
    report = _report(mapping, pre, state.runs, dry_run=False, state_dir=state_dir)
    driver = _Driver(pre, mapping, writer, state, on_progress, max_in_flight)
    outcomes = driver.run(chunks, state.runs)
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
    state_dir: str | Path | None = None,
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
    report = write_table(subset, mapping, fields, writer, policy=policy, state_dir=state_dir)
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
    state_dir: str | Path | None,
) -> WriteReport:
    return WriteReport(
        module=mapping.module,
        operation=mapping.operation,
        dry_run=dry_run,
        preflight=pre.summary(),
        chunks=runs,
        credits_estimate=BULK_WRITE_CREATE_CREDITS * len(runs),
        issues=pre.issues,
        state_dir=str(state_dir) if state_dir is not None else None,
    )


class _Driver:
    """Sends chunks with up to ``max_in_flight`` jobs open, saving state around each step.

    Submitting (upload + create) the next chunks while earlier jobs are processed lets
    Zoho work on them in parallel; results are collected oldest first.
    """

    def __init__(
        self,
        pre: Preflight,
        mapping: WriteMapping,
        writer: BulkWriter,
        state: _State | None,
        on_progress: Callable[[ChunkRun], None] | None,
        max_in_flight: int,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.pre = pre
        self.mapping = mapping
        self.writer = writer
        self.state = state
        self.on_progress = on_progress
        self.max_in_flight = max_in_flight

    def run(self, chunks: Sequence[Chunk], runs: Sequence[ChunkRun]) -> list[ChunkOutcome]:
        outcomes: dict[int, ChunkOutcome] = {}
        open_jobs: deque[tuple[Chunk, ChunkRun]] = deque()
        for chunk, run in zip(chunks, runs, strict=True):
            finished = self._settled(chunk, run)
            if finished is not None:
                outcomes[chunk.index] = finished
                continue
            if len(open_jobs) >= self.max_in_flight:
                oldest, oldest_run = open_jobs.popleft()
                outcomes[oldest.index] = self._collect(oldest, oldest_run)
            self._submit(chunk, run)
            open_jobs.append((chunk, run))
        while open_jobs:
            chunk, run = open_jobs.popleft()
            outcomes[chunk.index] = self._collect(chunk, run)
        return [outcomes[c.index] for c in chunks]

    def _saved(self, run: ChunkRun) -> None:
        if self.state is not None:
            self.state.save()
        if self.on_progress is not None:
            self.on_progress(run)

    def _settled(self, chunk: Chunk, run: ChunkRun) -> ChunkOutcome | None:
        """The outcome of a chunk finished in an earlier (interrupted) run, if any."""
        if run.state == "done" and self.state is not None:
            data = self.state.result_path(run.index).read_bytes()
            limits = result_limits(chunk.zip_bytes, chunk.row_count)
            result = read_result_zip(data, run.job_id or "?", limits)
            return ChunkOutcome(chunk.index, chunk.rows, run.job_id, result=result)
        if run.state == "failed":
            return ChunkOutcome(chunk.index, chunk.rows, run.job_id, failure=run.failure)
        return None

    def _submit(self, chunk: Chunk, run: ChunkRun) -> None:
        """Upload (unless a file id was saved) and create the job (unless one was saved)."""
        if run.job_id is None and run.create_sent:
            assert self.state is not None
            raise ResumeStateError(
                self.state.directory,
                f"chunk {run.index}: create-job was sent for file {run.file_id} but its job "
                "id was not saved, so Zoho may have created it. Find the job in Zoho (Setup > "
                "Data Administration > Import history) and re-run with --attach-job "
                f"{run.index}=JOB_ID (Python: resume_write(job_ids={{{run.index}: JOB_ID}})); "
                "if Zoho has no such job, delete this directory to send the rows again",
            )
        module = self.mapping.module
        if run.file_id is None:
            check_zip_bytes(chunk.zip_bytes, upload_limits(), where=f"{module} chunk {run.index}")
            run.file_id = self.writer.upload(chunk.zip_bytes, f"{module}-{chunk.index:04d}.zip")
            run.state = "uploaded"
            self._saved(run)
        if run.job_id is None:
            run.create_sent = True
            self._saved(run)
            run.job_id = self.writer.create_job(job_body(self.mapping, self.pre, run.file_id))
            run.state = "created"
            self._saved(run)
            log.info("bulk write job %s created for chunk %d of %s", run.job_id, run.index, module)

    def _collect(self, chunk: Chunk, run: ChunkRun) -> ChunkOutcome:
        """Wait for the chunk's job, then download and keep its result."""
        assert run.job_id is not None
        details = self.writer.wait_for_job(run.job_id)
        status = str(details.get("status", "")).upper()
        run.counts = _file_counts(details)
        url = (details.get("result") or {}).get("download_url")
        reason = None
        if status != "COMPLETED":
            reason = _failure_reason(details)
        elif not url:
            reason = "job COMPLETED without result.download_url"
        if reason is not None:
            failed = ChunkJobFailed(self.mapping.module, run.index, run.job_id, reason)
            log.warning("%s", failed)
            run.state, run.failure = "failed", reason
            self._saved(run)
            return ChunkOutcome(chunk.index, chunk.rows, run.job_id, failure=reason)
        data = self.writer.download_result(str(url))
        result = read_result_zip(data, run.job_id, result_limits(chunk.zip_bytes, chunk.row_count))
        if self.state is not None:
            self.state.result_path(run.index).write_bytes(data)
        run.state = "done"
        self._saved(run)
        return ChunkOutcome(chunk.index, chunk.rows, run.job_id, result=result)


def _file_counts(details: Mapping[str, Any]) -> dict[str, int]:
    resources = details.get("resource") or []
    file = (resources[0].get("file") if resources else None) or {}
    return {k: int(v) for k, v in file.items() if k.endswith("_count") and v is not None}


def _failure_reason(details: Mapping[str, Any]) -> str:
    resources = details.get("resource") or []
    parts = [f"job status {details.get('status')!r}"]
    for res in resources:
        for key in ("code", "message", "error_message"):
            if res.get(key):
                parts.append(f"{key} {res[key]}")
    return ", ".join(parts)


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


class _State:
    """The on-disk record of a write: zips, row positions and each chunk's progress."""

    def __init__(self, directory: Path, meta: dict[str, Any], runs: list[ChunkRun]) -> None:
        self.directory = directory
        self.meta = meta
        self.runs = runs

    @classmethod
    def create(
        cls,
        directory: str | Path,
        mapping: WriteMapping,
        pre: Preflight,
        chunks: Sequence[Chunk],
        runs: list[ChunkRun],
        max_rows: int,
    ) -> _State:
        path = Path(directory)
        if (path / MANIFEST).exists():
            raise ResumeStateError(
                path, "it already holds a write; resume it with resume_write or pick a new dir"
            )
        path.mkdir(parents=True, exist_ok=True)
        for chunk in chunks:
            chunk.write(path)
            np.save(path / f"chunk-{chunk.index:04d}.rows.npy", chunk.rows)
        meta = {
            "module": mapping.module,
            "operation": mapping.operation,
            "mapping_digest": _mapping_digest(mapping, pre),
            "rows": pre.total_rows,
            "max_rows": max_rows,
        }
        state = cls(path, meta, runs)
        state.save()
        return state

    @classmethod
    def load(cls, directory: str | Path) -> _State:
        path = Path(directory)
        try:
            data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResumeStateError(path, f"no readable {MANIFEST} ({exc})") from None
        runs = [ChunkRun(**item) for item in data.pop("chunks")]
        return cls(path, data, runs)

    def check_matches(self, mapping: WriteMapping, pre: Preflight) -> None:
        if self.meta["mapping_digest"] != _mapping_digest(mapping, pre):
            raise ResumeStateError(self.directory, "the mapping differs from the saved one")
        if self.meta["rows"] != pre.total_rows:
            raise ResumeStateError(
                self.directory,
                f"the input has {pre.total_rows} rows, the saved write had {self.meta['rows']}",
            )

    def chunks(self) -> list[Chunk]:
        out = []
        for run in self.runs:
            data = (self.directory / f"chunk-{run.index:04d}.zip").read_bytes()
            if hashlib.sha256(data).hexdigest() != run.sha256:
                raise ResumeStateError(self.directory, f"chunk {run.index}'s zip was modified")
            rows = np.load(self.directory / f"chunk-{run.index:04d}.rows.npy")
            out.append(Chunk(run.index, rows, f"{self.meta['module']}.csv", data))
        return out

    def result_path(self, index: int) -> Path:
        return self.directory / f"chunk-{index:04d}.result.zip"

    def save(self) -> None:
        body = dict(self.meta, chunks=[asdict(r) for r in self.runs])
        tmp = self.directory / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
        os.replace(tmp, self.directory / MANIFEST)
