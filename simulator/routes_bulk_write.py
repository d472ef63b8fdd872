"""The bulk write routes (mirror of ``simulator.routes_bulk_read``); see ``simulator.bulk_write``.

- ``POST .../crm/bulk/v8/write`` and ``.../recruit/recruit/bulk/v2/write`` (500 credits):
  the top-level keys are checked here, the resources in ``simulator.write_requests``; the
  job is processed in the background (``simulator.write_processing``).
- ``GET .../write/{job_id}``: the job details; ``GET {dc}/download/...``: the result zip.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from simulator.bulk_write import COMPLETED, WriteJob
from simulator.deps import CallContext, api_call
from simulator.errors import FatalApiError, resource_not_found
from simulator.write_processing import process_job
from simulator.write_requests import OPERATIONS, bad, build_job

crm_router = APIRouter(prefix="/{dc}/api/crm/bulk/v8")
recruit_router = APIRouter(prefix="/{dc}/recruit/recruit/bulk/v2")
download_router = APIRouter(prefix="/{dc}/download")


def _create(ctx: CallContext, body: Any, base_url: str) -> JSONResponse:
    state = ctx.state
    if not isinstance(body, dict):
        raise bad("INVALID_DATA", "the request body must be a JSON object")
    operation = body.get("operation")
    if operation is None:
        raise bad(
            "MANDATORY_NOT_FOUND",
            "required key operation is not found in request body.",
            {"api_name": "operation", "json_path": "$.operation"},
        )
    if operation not in OPERATIONS:
        raise bad("INVALID_DATA", "invalid data", {"api_name": "operation"})
    callback = body.get("callback", body.get("callBack"))
    if callback is not None:
        if not isinstance(callback, dict) or not callback.get("url"):
            raise bad(
                "MANDATORY_NOT_FOUND",
                "required key url is not found in request body.",
                {"api_name": "url", "json_path": "$.callback.url"},
            )
        if str(callback.get("method", "")).lower() != "post":
            raise bad(
                "INVALID_CALLBACK_METHOD",
                "invalid callback method",
                {"supported_callback_methods": ["post"]},
            )
    resources = body.get("resource")
    if not isinstance(resources, list) or not resources:
        raise bad(
            "MANDATORY_NOT_FOUND",
            "required key resource is not found in request body.",
            {"api_name": "resource", "json_path": "$.resource"},
        )
    if len(resources) > 1 and ctx.product != "crm":
        raise bad(
            "FILE_NOT_SUPPORTED",
            "File not supported for bulk write",
            {"reason": "Recruit takes one CSV (one resource) per job"},
        )
    if ctx.product == "recruit" and "ignore_empty" in body:
        # CRM v8 introduced the top-level ignore_empty (§6); Recruit v2 models it on the
        # resource. UNCERTAIN whether Zoho refuses the key or ignores it silently (then empty
        # cells would blank fields): the simulator refuses it so a misplaced key shows.
        raise bad(
            "INVALID_DATA",
            "invalid data",
            {"api_name": "ignore_empty", "json_path": "$.ignore_empty"},
        )
    ignore_empty = body.get("ignore_empty", False)
    for n, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise bad("INVALID_DATA", "invalid data", {"json_path": f"$.resource[{n}]"})
        both = "ignore_empty" in resource and "ignore_empty" in body
        if both and resource["ignore_empty"] != ignore_empty:
            raise bad(
                "COEXISTENCE_NOT_ALLOWED",
                "ignore_empty is given at the top level and in the resource",
                {"api_name": "ignore_empty", "json_path": f"$.resource[{n}].ignore_empty"},
            )
    ignore_empty = bool(resources[0].get("ignore_empty", ignore_empty))
    job = build_job(ctx, body, resources, operation, ignore_empty, callback)
    job.base_url = base_url
    registry = state.write_jobs
    with registry.lock:
        registry.jobs[job.id] = job
    state.stats.count(state.stats.jobs_created, f"{ctx.org.key}/{ctx.product}/{job.module}#write")
    modules = {r.module for r in job.resources}
    blocked = {
        (module, rid): code
        for (org, product, module, rid), code in registry.blocked.items()
        if (org, product) == (ctx.org.key, ctx.product) and module in modules
    }
    threading.Thread(
        target=process_job, args=(state, registry, job, blocked), daemon=True, name="sim-write"
    ).start()
    answer = {
        "status": "success",
        "code": "SUCCESS",
        "message": "success",
        "details": {
            "id": job.id,
            "created_by": job.created_by,
            "created_time": job.created_time,
        },
    }
    return JSONResponse(answer, status_code=201)


def _job(ctx: CallContext, job_id: str) -> WriteJob:
    registry = ctx.state.write_jobs
    with registry.lock:
        job = registry.jobs.get(job_id)
    if job is None or job.org_key != ctx.org.key:
        raise resource_not_found(job_id)
    return job


def _details(request: Request, ctx: CallContext, job_id: str) -> JSONResponse:
    job = _job(ctx, job_id)
    if job.product != ctx.product:
        raise resource_not_found(job_id)
    ctx.state.stats.count(ctx.state.stats.polls, job_id)
    base = str(request.base_url).rstrip("/")
    return JSONResponse(job.detail(ctx.state.clock.now(), base, ctx.dc))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise FatalApiError(400, "REQUEST_BODY_IS_EMPTY", "the request body is empty")
    try:
        return json.loads(raw)
    except ValueError:
        raise FatalApiError(
            400, "REQUEST_BODY_NOT_SUPPORTED", "request body contains invalid format"
        ) from None


CrmWriteCreate = Annotated[CallContext, Depends(api_call("crm", cost=500))]
RecruitWriteCreate = Annotated[CallContext, Depends(api_call("recruit", cost=500))]
CrmCall = Annotated[CallContext, Depends(api_call("crm"))]
RecruitCall = Annotated[CallContext, Depends(api_call("recruit"))]


@crm_router.post("/write", status_code=201)
async def crm_create(request: Request, ctx: CrmWriteCreate) -> JSONResponse:
    return _create(ctx, await _json_body(request), str(request.base_url).rstrip("/"))


@crm_router.get("/write/{job_id}")
def crm_details(request: Request, job_id: str, ctx: CrmCall) -> JSONResponse:
    return _details(request, ctx, job_id)


@recruit_router.post("/write", status_code=201)
async def recruit_create(request: Request, ctx: RecruitWriteCreate) -> JSONResponse:
    return _create(ctx, await _json_body(request), str(request.base_url).rstrip("/"))


@recruit_router.get("/write/{job_id}")
def recruit_details(request: Request, job_id: str, ctx: RecruitCall) -> JSONResponse:
    return _details(request, ctx, job_id)


@download_router.get("/v2/crm/{zgid}/bulk-write/{job_id}/{name}")
def download_result(zgid: str, job_id: str, name: str, ctx: CrmCall) -> Response:
    state = ctx.state
    state.stats.count(state.stats.downloads, job_id)
    job = _job(ctx, job_id)
    ready = job.status(state.clock.now()) == COMPLETED and job.result_zip is not None
    if zgid != job.zgid or name != f"{job_id}.zip" or not ready:
        raise resource_not_found(job_id)
    assert job.result_zip is not None
    return Response(
        job.result_zip,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{job_id}.zip"'},
    )
