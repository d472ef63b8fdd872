"""Errors raised by the write-back toolkit, grouped by what the user can do about them.

::

    WritebackError                     root of everything in transforms.writeback (an ``EtlError``)
    ├── WritebackFatal                 ``TerminalError``: fix the input or the mapping, run again
    │   ├── MappingError               a mapping file or object is wrong (names file and line)
    │   ├── PreflightError             the batch as a whole cannot be sent (unknown field,
    │   │                              mandatory field not mapped, > 200 columns, read-only field)
    │   ├── InvalidRowsError           rows failed pre-flight and the policy is "stop"
    │   ├── ChunkTooLargeError         one row alone exceeds the 25 MB zipped limit
    │   ├── ReconciliationError        Zoho's result file does not line up with what was sent
    │   └── ResumeStateError           a saved write cannot be resumed safely
    └── WritebackSkippable             ``SkippableError``: the rest of the run can continue
        └── ChunkJobFailed             one chunk's bulk write job ended FAILED (its rows are
                                       reported FAILED and can be retried)

The markers come from ``recovery``: callers ask ``recovery.is_transient(e)`` or
``isinstance(e, WritebackFatal)`` instead of matching text.
Messages name the module, job, row or field concerned and never contain credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from recovery.errors import EtlError, SkippableError, TerminalError


class WritebackError(EtlError):
    """Root of every error raised by ``transforms.writeback``."""


class WritebackFatal(WritebackError, TerminalError):
    """Marker: nothing was (or will be) sent; fix the cause and run again."""


class WritebackSkippable(WritebackError, SkippableError):
    """Marker: one part failed, the run continues and reports it."""


class MappingError(WritebackFatal):
    """A mapping (file or Python object) is invalid."""

    def __init__(
        self, problem: str, *, source: str | Path | None = None, line: int | None = None
    ) -> None:
        self.problem = problem
        self.source = str(source) if source is not None else None
        self.line = line
        where = ""
        if self.source is not None:
            where = f"{self.source}:{line}: " if line is not None else f"{self.source}: "
        super().__init__(f"{where}{problem}")


class PreflightError(WritebackFatal):
    """The batch cannot be sent at all; every problem is listed."""

    def __init__(self, module: str, problems: Sequence[str]) -> None:
        self.module = module
        self.problems = tuple(problems)
        listed = "; ".join(self.problems)
        super().__init__(f"bulk write to {module} cannot start: {listed}")


class InvalidRowsError(WritebackFatal):
    """Pre-flight found invalid rows and the policy says stop before sending anything."""

    #: nothing was sent: the rows need fixing, a re-run as it is stops the same way
    resumable = False

    def __init__(
        self, module: str, invalid_rows: int, total_rows: int, sample: str, issues: object = None
    ) -> None:
        self.module = module
        self.invalid_rows = invalid_rows
        self.total_rows = total_rows
        #: the pre-flight issue table (pyarrow.Table: row, key, api_name, code, message)
        self.issues = issues
        super().__init__(
            f"{invalid_rows} of {total_rows} rows for {module} failed pre-flight validation "
            f"(first: {sample}); nothing was sent. Fix the rows, or use the policy "
            "'send_valid' to send only the valid ones."
        )


class ChunkTooLargeError(WritebackFatal):
    """A single input row does not fit in a 25 MB zip."""

    def __init__(self, module: str, row: int, zipped_bytes: int, limit: int) -> None:
        self.module = module
        self.row = row
        super().__init__(
            f"row {row} for {module} alone zips to {zipped_bytes} bytes, over Zoho's "
            f"{limit}-byte upload limit; shorten its long text fields"
        )


class ReconciliationError(WritebackFatal):
    """Zoho's result CSV cannot be joined back to the rows that were sent."""

    def __init__(self, job_id: str, problem: str) -> None:
        self.job_id = job_id
        self.problem = problem
        super().__init__(
            f"bulk write job {job_id}: result file does not match the rows sent: {problem}. "
            "Download the result again; if it persists, report the job id to Zoho support."
        )


class ResumeStateError(WritebackFatal):
    """The saved state of an interrupted write cannot be resumed without risking duplicates."""

    def __init__(self, state_dir: str | Path, problem: str) -> None:
        self.state_dir = str(state_dir)
        self.problem = problem
        super().__init__(f"cannot resume the write saved in {self.state_dir}: {problem}")


class ChunkJobFailed(WritebackSkippable):
    """One chunk's job ended FAILED; its rows are reported as FAILED."""

    def __init__(self, module: str, chunk: int, job_id: str, reason: str) -> None:
        self.module = module
        self.chunk = chunk
        self.job_id = job_id
        self.reason = reason
        super().__init__(
            f"bulk write job {job_id} (chunk {chunk} of {module}) failed: {reason}; "
            "its rows are marked FAILED and can be sent again with retry_failed_rows"
        )
