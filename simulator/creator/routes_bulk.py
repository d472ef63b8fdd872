"""Bulk Read API v2.1: create a job, read its status, download its zip.

``POST .../bulk/{owner}/{app}/report/{report}/read`` (``bulk.CREATE``) takes
``{"query": {"fields", "criteria", "max_records"}}`` (max_records 100,000-200,000 in thousands,
default 100,000) or, for the next batch, ``{"query": {"record_cursor": ...}}`` and nothing else.
``GET .../read/{job_id}`` and ``.../read/{job_id}/result`` need ``bulk.READ``; the download is a
zip with one CSV and, when records remain, a ``recordCursor`` header (valid 15 minutes from the
job's end). Create is limited to 5 and download to 10 calls a minute per user (429 / 2955).
Faults: ``slow_job`` and ``job_failure`` on the create path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse

from simulator.creator import errors
from simulator.creator.deps import PREFIX, CreatorCall, creator_call
from simulator.creator.jobs import BulkCursor, BulkJob, BulkQuery, csv_table, write_zip
from simulator.creator.routes_data import criteria_of
from simulator.creator.state import CreatorState

router = APIRouter(prefix=PREFIX + "/bulk")

Create = Annotated[CreatorCall, Depends(creator_call("bulk.CREATE", "bulk/create", bulk=True))]
Status = Annotated[CreatorCall, Depends(creator_call("bulk.READ", "bulk/status", bulk=True))]
Download = Annotated[CreatorCall, Depends(creator_call("bulk.READ", "bulk/download", bulk=True))]

MIN_RECORDS = 100_000
MAX_RECORDS = 200_000
QUERY_KEYS = frozenset({"fields", "criteria", "max_records", "record_cursor"})
JOB_PATH = "/{owner}/{app}/report/{report}/read"


def _created_time(epoch: float, offset_minutes: int) -> str:
    """``dd-MMM-yyyy HH:mm:ss`` in the account's time zone, with no zone (like Zoho's)."""
    local = datetime.fromtimestamp(int(epoch), tz=UTC) + timedelta(minutes=offset_minutes)
    return local.strftime("%d-%b-%Y %H:%M:%S")


def _max_records(value: Any) -> int:
    if value is None:
        return MIN_RECORDS
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or not MIN_RECORDS <= value <= MAX_RECORDS or value % 1000:
        raise errors.invalid_input("max_records", "use 100000 to 200000 in thousands")
    return int(value)


def _new_query(
    ctx: CreatorCall, owner: str, app: str, report: str, query: dict[str, Any]
) -> BulkQuery:
    found_app, found = ctx.creator.report(ctx.org, owner, app, report)
    store = ctx.creator.store(ctx.org.key, found_app, found.form)
    fields = query.get("fields")
    if fields is None:
        names = [f.link_name for f in store.form.fields]
    elif isinstance(fields, list) and fields and all(isinstance(f, str) for f in fields):
        unknown = [f for f in fields if f not in store.columns]
        if unknown:
            raise errors.invalid_input("fields", f"no field {unknown[0]} in this report")
        names = [f for f in fields if f != "ID"]
    else:
        raise errors.invalid_input("fields", "give a list of field link names")
    criteria_text = query.get("criteria")
    if criteria_text is not None and not isinstance(criteria_text, str):
        raise errors.invalid_input("criteria", "the criteria is a string")
    return BulkQuery(
        org_key=ctx.org.key,
        owner=owner,
        app=app,
        report=report,
        form=found.form,
        fields=("ID", *names),
        criteria_text=criteria_text,
        criteria=criteria_of(store, criteria_text),
        max_records=_max_records(query.get("max_records")),
    )


def _from_cursor(
    ctx: CreatorCall, owner: str, app: str, report: str, token: Any
) -> tuple[BulkQuery, int]:
    cursor = ctx.creator.bulk_cursors.get(token) if isinstance(token, str) else None
    where = (ctx.org.key, owner, app, report)
    if (
        cursor is None
        or (cursor.query.org_key, cursor.query.owner, cursor.query.app, cursor.query.report)
        != where
    ):
        raise errors.invalid_input("record_cursor", "no such cursor for this report")
    if ctx.sim.clock.now() > cursor.expires_at:
        raise errors.invalid_input("record_cursor", "the cursor has expired (15 minutes)")
    return cursor.query, cursor.start_index


@router.post(JOB_PATH)
async def create_job(
    ctx: Create, request: Request, owner: str, app: str, report: str
) -> JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise errors.body_missing() from None
    query = body.get("query", {}) if isinstance(body, dict) else None
    if not isinstance(query, dict) or set(query) - QUERY_KEYS:
        raise errors.invalid_input("query", f"use the keys {', '.join(sorted(QUERY_KEYS))}")
    if "record_cursor" in query:
        if len(query) > 1:
            raise errors.invalid_input("query", "the next batch takes the record_cursor only")
        bulk_query, start = _from_cursor(ctx, owner, app, report, query["record_cursor"])
    else:
        bulk_query, start = _new_query(ctx, owner, app, report, query), 0
    creator = ctx.creator
    if not creator.minute.take(
        f"{ctx.org.key}|bulk-create-user", creator.config.bulk_creates_per_minute
    ):
        raise errors.per_minute_limit()
    job_id = creator.new_job_id(ctx.org)
    seconds = creator.job_seconds(job_id)
    slow = ctx.sim.faults.take("slow_job", ctx.path, ctx.org.key)
    if slow is not None:
        seconds = slow.seconds
    now = ctx.sim.clock.now()
    job = BulkJob(
        id=job_id,
        query=bulk_query,
        start_index=start,
        created_at=now,
        processing_seconds=seconds,
        will_fail=ctx.sim.faults.take("job_failure", ctx.path, ctx.org.key) is not None,
        created_by=ctx.account.owner,
        created_time=_created_time(now, ctx.org.utc_offset_minutes),
        zip_path=ctx.sim.workdir / f"creator-{job_id}.zip",
    )
    creator.jobs[job_id] = job
    return JSONResponse({"code": 3000, "details": _details(creator, job, running=True)})


def _details(creator: CreatorState, job: BulkJob, *, running: bool) -> dict[str, Any]:
    spelling = creator.config.status_spelling
    status = spelling["running"] if running else spelling["failed" if job.will_fail else "done"]
    return {
        "id": job.id,
        "operation": "read",
        "created_by": job.created_by,
        "created_time": job.created_time,
        "status": status,
    }


def _job(ctx: CreatorCall, owner: str, app: str, report: str, job_id: str) -> BulkJob:
    job = ctx.creator.jobs.get(job_id)
    q = job.query if job is not None else None
    if (
        job is None
        or q is None
        or (q.org_key, q.owner, q.app, q.report) != (ctx.org.key, owner, app, report)
    ):
        raise errors.job_not_found()
    if ctx.sim.clock.now() > job.ends_at + ctx.creator.config.result_retention:
        raise errors.job_not_found()  # results are kept 24 h
    return job


def _result(ctx: CreatorCall, job: BulkJob) -> None:
    """Build the job's zip and cursor once, on first use after it ended."""
    with job.lock:
        if job.count is not None:
            return
        creator = ctx.creator
        q = job.query
        app = creator.app(ctx.org, q.owner, q.app)
        store = creator.store(q.org_key, app, q.form)
        scan = store.scan(q.criteria, list(q.fields), job.start_index, q.max_records)
        table = csv_table(
            store, scan.table, creator.config.csv_lookup, creator.config.csv_multi_separator
        )
        write_zip(table, job.zip_path, f"{q.report}.csv")
        if scan.more and scan.next_index is not None:
            expires = job.ends_at + creator.config.cursor_ttl
            job.cursor = creator.mint_bulk_cursor(BulkCursor(q, scan.next_index, expires))
        job.count = scan.table.num_rows


@router.get(JOB_PATH + "/{job_id}")
def job_status(ctx: Status, owner: str, app: str, report: str, job_id: str) -> JSONResponse:
    job = _job(ctx, owner, app, report, job_id)
    running = not job.finished(ctx.sim.clock.now())
    details = _details(ctx.creator, job, running=running)
    if not running and not job.will_fail:
        _result(ctx, job)
        path = f"/creator/v2.1/bulk/{owner}/{app}/report/{report}/read/{job.id}/result"
        if ctx.creator.config.legacy_download_url:
            path = f"/api/bulk/v2.1/{owner}/{app}/report/{report}/read/{job.id}/result/"
        result: dict[str, Any] = {"count": job.count, "download_url": path}
        if job.cursor is not None:
            result["record_cursor"] = job.cursor
        details["result"] = result
    return JSONResponse({"code": 3000, "details": details})


@router.get(JOB_PATH + "/{job_id}/result")
def download(ctx: Download, owner: str, app: str, report: str, job_id: str) -> FileResponse:
    job = _job(ctx, owner, app, report, job_id)
    if not job.finished(ctx.sim.clock.now()) or job.will_fail:
        raise errors.invalid_input("job_id", "the job has not completed")
    creator = ctx.creator
    if not creator.minute.take(
        f"{ctx.org.key}|bulk-download-user", creator.config.bulk_downloads_per_minute
    ):
        raise errors.per_minute_limit()
    _result(ctx, job)
    headers = {"recordCursor": job.cursor} if job.cursor is not None else {}
    return FileResponse(
        job.zip_path, media_type="application/zip", headers=headers, filename=f"{job.id}.zip"
    )
