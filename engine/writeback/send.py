"""Sending a single-module write's chunks: upload, create job, wait, download result.

Up to ``max_in_flight`` jobs are submitted ahead of the one awaited (Zoho processes them
in parallel; results are collected oldest first). With a `SavedWrite` every step is
saved *before and after* it runs: a saved job id is polled, never re-created; a saved
file id is reused; a create sent whose answer was lost is refused until the user names
the job.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from connectors.zipcheck import check_zip_bytes
from engine.writeback.state import ChunkRun, SavedWrite
from transforms.writeback.csv_builder import Chunk
from transforms.writeback.errors import ChunkJobFailed, ResumeStateError
from transforms.writeback.mapping import WriteMapping
from transforms.writeback.reconcile import (
    ChunkOutcome,
    read_result_zip,
    result_limits,
    upload_limits,
)
from transforms.writeback.validate import Preflight

log = logging.getLogger("engine.writeback.driver")


class BulkWriter(Protocol):
    """The transport a write needs (see ``connectors.bulk_write.BulkWriteClient``)."""

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


class ChunkSender:
    """Sends chunks with up to ``max_in_flight`` jobs open, saving state around each step."""

    def __init__(
        self,
        pre: Preflight,
        mapping: WriteMapping,
        writer: BulkWriter,
        state: SavedWrite | None,
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
        """Each chunk's outcome, in chunk order."""
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
            self.state.save(run)
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
                "if Zoho has no such job, delete write key "
                f"{self.state.key} from the ledger's write_chunks table to send the rows again",
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
