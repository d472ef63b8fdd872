"""Data API v2.1: Get Records and Delete Records of a report.

``GET  /creator/v2.1/data/{owner}/{app}/report/{report}`` (``report.READ``): ``criteria``,
``field_config`` (quick_view | detail_view | custom | all), ``fields`` (with custom),
``max_records`` 200 | 500 | 1000; more records -> a ``record_cursor`` response header, sent
back as a ``record_cursor`` request header. The v2 ``from`` / ``limit`` paging is refused.

``DELETE`` the same path (``report.DELETE``): a JSON body with a mandatory ``criteria``; at
most 200 records per call, more than 200 matches need ``?process_until_limit=true`` (else
3960), which deletes the first 200 and says ``more_records``. Locked records fail with 3001;
no match is 404 / 3100.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from simulator.creator import errors
from simulator.creator.criteria import CriteriaError, Node, check, parse
from simulator.creator.deps import PREFIX, CreatorCall, creator_call
from simulator.creator.jobs import RecordsCursor, csv_bytes, csv_table
from simulator.creator.model import SYSTEM_FIELDS, CreatorReport
from simulator.creator.render import json_records
from simulator.creator.store import FormStore

router = APIRouter(prefix=PREFIX + "/data")

Read = Annotated[CreatorCall, Depends(creator_call("report.READ", "data/get"))]
Delete = Annotated[CreatorCall, Depends(creator_call("report.DELETE", "data/delete"))]

PAGE_SIZES = ("200", "500", "1000")
FIELD_CONFIGS = ("quick_view", "detail_view", "custom", "all")
ACCEPTS = ("application/json", "text/csv", "*/*")
DELETE_LIMIT = 200
SKIP_WORKFLOW = ("form_workflow", "schedules", "all")


def criteria_of(store: FormStore, text: str | None) -> Node | None:
    if text is None:
        return None
    try:
        node = parse(text)
        check(node, store.field_kinds())
    except CriteriaError as exc:
        raise errors.invalid_input("criteria", str(exc)) from None
    return node


def _report_store(
    ctx: CreatorCall, owner: str, app: str, report: str
) -> tuple[CreatorReport, FormStore]:
    found_app, found = ctx.creator.report(ctx.org, owner, app, report)
    return found, ctx.creator.store(ctx.org.key, found_app, found.form)


def _fields(report: CreatorReport, store: FormStore, config: str, given: str | None) -> list[str]:
    if config not in FIELD_CONFIGS:
        raise errors.invalid_input("field_config", f"use one of {', '.join(FIELD_CONFIGS)}")
    if given is not None and config != "custom":
        raise errors.invalid_input("fields", "fields are taken with field_config=custom only")
    if config == "quick_view":
        return list(report.quick_view)
    if config in ("detail_view", "all"):
        return [f.link_name for f in store.form.fields] + list(SYSTEM_FIELDS)
    names = [n.strip() for n in (given or "").split(",") if n.strip()]
    if not names:
        raise errors.invalid_input("fields", "field_config=custom needs fields")
    unknown = [n for n in names if n not in store.columns]
    if unknown:
        raise errors.invalid_input("fields", f"no field {unknown[0]} in this report")
    return names


@router.get("/{owner}/{app}/report/{report}")
def get_records(ctx: Read, request: Request, owner: str, app: str, report: str) -> Response:
    params = request.query_params
    for v2_param in ("from", "limit"):
        if v2_param in params:
            raise errors.invalid_input(v2_param, "v2.1 pages with max_records and record_cursor")
    accept = request.headers.get("accept", "application/json").strip()
    if accept not in ACCEPTS:
        raise errors.invalid_input("accept", "use application/json or text/csv")
    max_records = params.get("max_records", "200")
    if max_records not in PAGE_SIZES:
        raise errors.invalid_input("max_records", "use 200, 500 or 1000")
    found, store = _report_store(ctx, owner, app, report)
    cursors = ctx.creator.record_cursors
    token = request.headers.get("record_cursor")
    if token is not None:
        cursor = cursors.get(token)
        where = (ctx.org.key, app, report)
        if cursor is None or cursor.where != where or ctx.sim.clock.now() > cursor.expires_at:
            raise errors.invalid_input("record_cursor", "the cursor is invalid or has expired")
        criteria_text, fields, start = cursor.criteria_text, list(cursor.fields), cursor.start_index
    else:
        criteria_text = params.get("criteria")
        fields = _fields(
            found, store, params.get("field_config", "quick_view"), params.get("fields")
        )
        start = 0
    scan = store.scan(criteria_of(store, criteria_text), fields, start, int(max_records))
    if scan.table.num_rows == 0:
        raise errors.no_records(ctx.creator.config.no_records_status)
    headers: dict[str, str] = {}
    if scan.more and scan.next_index is not None:
        next_token = secrets.token_hex(24)
        cursors[next_token] = RecordsCursor(
            where=(ctx.org.key, app, report),
            criteria_text=criteria_text,
            fields=tuple(fields),
            start_index=scan.next_index,
            expires_at=ctx.sim.clock.now() + ctx.creator.config.records_cursor_ttl,
        )
        headers["record_cursor"] = next_token
    if accept == "text/csv":
        config = ctx.creator.config
        table = csv_table(store, scan.table, config.csv_lookup, config.csv_multi_separator)
        return Response(csv_bytes(table), media_type="text/csv", headers=headers)
    body = {"code": 3000, "data": json_records(store, scan.table)}
    return JSONResponse(body, headers=headers)


@router.delete("/{owner}/{app}/report/{report}")
async def delete_records(
    ctx: Delete, request: Request, owner: str, app: str, report: str
) -> JSONResponse:
    flag = request.query_params.get("process_until_limit")
    if flag not in (None, "true", "false"):
        raise errors.invalid_input("process_until_limit", "use true or false")
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise errors.body_missing()
    criteria_text = body.get("criteria")
    if not isinstance(criteria_text, str) or not criteria_text.strip():
        raise errors.criteria_missing(ctx.creator.config.missing_criteria_status)
    skip = body.get("skip_workflow", [])
    if not isinstance(skip, list) or any(s not in SKIP_WORKFLOW for s in skip):
        raise errors.invalid_input("skip_workflow", f"use a list of {', '.join(SKIP_WORKFLOW)}")
    _found, store = _report_store(ctx, owner, app, report)
    scan = store.scan(criteria_of(store, criteria_text), ["ID"], 0, DELETE_LIMIT)
    if scan.table.num_rows == 0:
        raise errors.no_records(404)
    if scan.more and flag != "true":
        raise errors.too_many_to_process()
    result: list[dict[str, Any]] = []
    deleted: list[int] = []
    for index, record_id in zip(
        scan.table["__index"].to_pylist(), scan.table["ID"].to_pylist(), strict=True
    ):
        if record_id in store.locked:
            result.append(
                {"code": 3001, "data": {"ID": record_id}, "error": ["Failed to Delete Data."]}
            )
        else:
            deleted.append(index)
            result.append(
                {"code": 3000, "data": {"ID": record_id}, "message": "Record Deleted Successfully!"}
            )
    store.delete(deleted)
    answer: dict[str, Any] = {"code": 3000, "result": result}
    if flag is not None:
        answer["more_records"] = scan.more
    return JSONResponse(answer)
