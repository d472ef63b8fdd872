"""Bulk read: CRM ``/crm/bulk/v8/read`` and Recruit ``/recruit/bulk/v2/read``.

Create (201, wrapped in ``data[]`` plus ``info``), job details (``{"data": [JobDetail]}``),
and the zip download (``application/x-download``; 10 per minute per org, kept one day).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from simulator.bulk_read import COMPLETED, parse_query
from simulator.deps import CallContext, api_call
from simulator.downloads import crc_patches, stream_file
from simulator.errors import FatalApiError, resource_not_found


async def _body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if "application/json" not in content_type:
        raise FatalApiError(
            415,
            "MEDIA_TYPE_NOT_SUPPORTED",
            "The Content-Type header is missing or not supported",
            {"content_type": content_type or None},
        )
    raw = await request.body()
    if not raw.strip():
        raise FatalApiError(400, "REQUEST_BODY_IS_EMPTY", "the request body is empty")
    try:
        return json.loads(raw)
    except ValueError:
        raise FatalApiError(
            400, "REQUEST_BODY_NOT_SUPPORTED", "request body contains invalid format"
        ) from None


def _create(ctx: CallContext, body: Any) -> JSONResponse:
    state = ctx.state
    cfg = state.config
    spec = parse_query(
        body,
        ctx.product,
        lambda module: state.schema(ctx.org.key, ctx.product, module),
        lambda token: state.page_cursor(ctx.org.key, token),
        cfg.max_page,
        cfg.max_fields,
        cfg.max_criteria,
    )
    job = state.create_read_job(ctx.org.key, spec)
    details = {
        "id": job.id,
        "operation": "read",
        "state": "ADDED",
        "created_by": job.created_by,
        "created_time": job.created_time,
    }
    body_out = {
        "data": [
            {
                "status": "success",
                "code": "ADDED_SUCCESSFULLY",
                "message": "Added successfully.",
                "details": details,
            }
        ],
        "info": {},
    }
    return JSONResponse(body_out, status_code=201)


def _details(ctx: CallContext, job_id: str) -> JSONResponse:
    job = ctx.state.read_job(ctx.org.key, ctx.product, job_id)
    ctx.state.stats.count(ctx.state.stats.polls, job_id)
    return JSONResponse({"data": [job.detail(ctx.state.clock.now(), ctx.bulk_prefix)]})


def _download(ctx: CallContext, job_id: str) -> StreamingResponse:
    state = ctx.state
    state.stats.count(state.stats.downloads, job_id)
    state.downloads.acquire(ctx.org.key, state.config.downloads_per_minute)
    job = state.read_job(ctx.org.key, ctx.product, job_id)
    now = state.clock.now()
    completed = job.state(now) == COMPLETED
    if completed and now > job.completed_at() + state.config.result_retention:
        job.zip_path.unlink(missing_ok=True)  # results are kept one day
    if not completed or not job.zip_path.exists():
        raise resource_not_found(job_id)
    size = job.zip_path.stat().st_size
    limit: int | None = None
    patches: dict[int, bytes] | None = None
    drop_after: int | None = None
    headers = {"Content-Disposition": f'attachment; filename="{job_id}.zip"'}
    if (fault := state.faults.take("drop_download", ctx.path, ctx.org.key)) is not None:
        drop_after = max(int(size * fault.fraction), 1)
    elif (fault := state.faults.take("truncate_zip", ctx.path, ctx.org.key)) is not None:
        limit = max(int(size * fault.fraction), 1)
    elif state.faults.take("corrupt_zip", ctx.path, ctx.org.key) is not None:
        patches = crc_patches(job.zip_path)
    headers["Content-Length"] = str(size if limit is None else limit)
    return StreamingResponse(
        stream_file(job.zip_path, limit, patches, drop_after),
        media_type="application/x-download",
        headers=headers,
    )


def _router(product: str, prefix: str) -> APIRouter:
    """Create, details and download of one product's bulk read jobs."""
    router = APIRouter(prefix=prefix)
    call = Depends(api_call(product))
    create_call = Depends(api_call(product, cost=50))  # Zoho's credit table: initialize = 50

    @router.post("/read", status_code=201)
    async def create(request: Request, ctx: CallContext = create_call) -> JSONResponse:
        return _create(ctx, await _body(request))

    @router.get("/read/{job_id}")
    def details(job_id: str, ctx: CallContext = call) -> JSONResponse:
        return _details(ctx, job_id)

    @router.get("/read/{job_id}/result")
    def download(job_id: str, ctx: CallContext = call) -> StreamingResponse:
        return _download(ctx, job_id)

    return router


routers = [
    _router("crm", "/{dc}/api/crm/bulk/v8"),
    _router("recruit", "/{dc}/recruit/recruit/bulk/v2"),
]
