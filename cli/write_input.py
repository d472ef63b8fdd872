"""What the ``write`` command checks in its input before anything starts (exit 2)."""

from __future__ import annotations

from engine.errors import UsageError


def attached_jobs(values: list[str]) -> dict[int, str] | None:
    """``--attach-job 0=4876...`` values as {chunk: job id}."""
    jobs: dict[int, str] = {}
    for value in values:
        chunk, sep, job_id = value.partition("=")
        if not sep or not chunk.strip().isdigit() or not job_id.strip().isdigit():
            raise UsageError(f"--attach-job {value!r}: use CHUNK=JOB_ID (two numbers)")
        jobs[int(chunk)] = job_id.strip()
    return jobs or None


def check_sql_source(source: str, warehouse_url: str) -> None:
    """Refuse a ``sql:`` source that is not one SELECT before anything starts (exit 2)."""
    if not source.startswith("sql:"):
        return
    from engine.errors import SourceError
    from transforms.writeback.sql_source import SourceQueryError, single_select

    try:
        single_select(source.removeprefix("sql:"), strict=warehouse_url.startswith("duckdb"))
    except SourceQueryError as exc:
        raise SourceError(source, exc.problem) from None
