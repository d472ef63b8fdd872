"""Bulk write step 1: the upload host (docs/zoho-bulk-api.md §2.1, §3).

- CRM ``POST {base}/{dc}/content/crm/v8/upload`` (the SDK's ``content.zohoapis`` host) with
  ``feature: bulk-write`` and ``X-CRM-ORG: <zgid>``; Recruit ``POST
  {base}/{dc}/upload/recruit/v2/upload`` (Zoho's ``upload.zoho`` files host, §3, §7.1) with
  ``X-RECRUIT-ORG``. Multipart, one part named ``file``. A Recruit upload sent to the CRM
  content host gets ``INVALID_URL_PATTERN`` (404), as a path a host does not serve does.
- Success (200, not wrapped): ``{"status": "success", "code": "FILE_UPLOAD_SUCCESS",
  "message": "file uploaded.", "details": {"file_id", "created_time"}}``.
- A missing ``feature`` header or a missing / wrong org header gets the upload host's own
  error shape (``ERROR_CODE``, ``ERROR_MESSAGE``, ``x-error``, ``info``, ``x-info``,
  ``http_status``); a ``feature`` other than ``bulk-write`` gets ``NOT_SUPPORTED_FEATURE``.
- Not a zip: ``INVALID_FILE_FORMAT`` with HTTP 200 (as the Postman samples show; the docs
  say 400). Over 25 MB: ``FILE_TOO_LARGE`` with 413 on CRM and 200 on Recruit.

What is inside the zip (one CSV, 25,000 rows, 200 columns) is checked when a job is
created from the file (``simulator.write_requests``). The files live in
``state.uploads`` (``simulator.upload_store``).
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from simulator.clock import format_time
from simulator.deps import CallContext, api_call
from simulator.errors import FatalApiError, invalid_url_pattern

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
ORG_HEADERS = {"crm": "X-CRM-ORG", "recruit": "X-RECRUIT-ORG"}

router = APIRouter(prefix="/{dc}/content")
recruit_router = APIRouter(prefix="/{dc}/upload")


def upload_host_error(product: str, status: int = 400) -> JSONResponse:
    """The files service's own error shape, for missing or invalid upload headers."""
    header = ORG_HEADERS[product]
    body = {
        "ERROR_CODE": status,
        "ERROR_MESSAGE": "Bad Request" if status == 400 else "Unauthorized Error",
        "x-error": f"check if headers [feature, {header}] are present and valid",
        "info": "Forbidden",
        "x-info": "Link not valid",
        "http_status": status,
    }
    return JSONResponse(body, status_code=status)


def _error(code: str, message: str, status: int, created_time: str) -> JSONResponse:
    body = {
        "status": "error",
        "code": code,
        "message": message,
        "details": {"created_time": created_time},
    }
    return JSONResponse(body, status_code=status)


async def _upload(request: Request, ctx: CallContext) -> JSONResponse:
    state = ctx.state
    created = format_time(state.clock.now(), ctx.org.utc_offset_minutes)
    feature = request.headers.get("feature")
    org_header = request.headers.get(ORG_HEADERS[ctx.product])
    if feature is None or org_header is None or org_header.strip() != ctx.org.zgid:
        state.stats.count(state.stats.errors, "UPLOAD_HEADERS")
        return upload_host_error(ctx.product)
    if feature.strip().lower() != "bulk-write":
        return _error("NOT_SUPPORTED_FEATURE", "Feature is not supported", 200, created)
    form = await request.form()
    try:
        part: Any = form.get("file")
        if part is None or isinstance(part, str):
            raise FatalApiError(
                400,
                "MANDATORY_NOT_FOUND",
                "required param file is missing",
                {"param_name": "file"},
            )
        data: bytes = await part.read()
    finally:
        await form.close()
    if len(data) > MAX_UPLOAD_BYTES:
        status = 413 if ctx.product == "crm" else 200
        return _error("FILE_TOO_LARGE", "File size too large to process", status, created)
    if not _is_zip(data):
        return _error(
            "INVALID_FILE_FORMAT",
            "invalid file format. only zip format is supported",
            200,
            created,
        )
    file_id = state.uploads.add(
        ctx.org.key, ctx.org.id_prefix, ctx.product, data, state.clock.now()
    )
    body = {
        "status": "success",
        "code": "FILE_UPLOAD_SUCCESS",
        "message": "file uploaded.",
        "details": {"file_id": file_id, "created_time": created},
    }
    return JSONResponse(body, status_code=200)


def _is_zip(data: bytes) -> bool:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except zipfile.BadZipFile:
        return False


CrmUpload = Annotated[CallContext, Depends(api_call("crm"))]
RecruitUpload = Annotated[CallContext, Depends(api_call("recruit"))]


@router.post("/crm/v8/upload")
async def crm_upload(request: Request, ctx: CrmUpload) -> JSONResponse:
    return await _upload(request, ctx)


@recruit_router.post("/recruit/v2/upload")
async def recruit_upload(request: Request, ctx: RecruitUpload) -> JSONResponse:
    return await _upload(request, ctx)


@router.post("/recruit/v2/upload")
def recruit_upload_on_the_crm_host(dc: str) -> JSONResponse:
    """Recruit's upload path on the CRM content host: not a URL that host serves."""
    raise invalid_url_pattern()
