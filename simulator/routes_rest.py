"""REST reads: ``GET /crm/v8/{module}`` (Get Records), ``/{module}/deleted``, ``/{module}/{id}``,
and the same under Recruit's ``/recruit/v2`` (no ``page_token``, ``fields`` optional, 3 credits).

CRM Get Records takes ``fields`` (mandatory in v8), ``page`` / ``per_page`` (at most 200, larger
values are capped), ``page_token`` (needed past ``rest_discrete_limit`` = 2,000 records:
``DISCRETE_PAGINATION_LIMIT_EXCEEDED``) and the ``If-Modified-Since`` header (records with
``Modified_Time`` at or after it). No records: 204, or 304 when If-Modified-Since was given.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from simulator.clock import format_time, parse_time
from simulator.criteria import resolve_field
from simulator.deps import CallContext, api_call
from simulator.errors import FatalApiError
from simulator.pages import PageScan
from simulator.schema import ModuleSchema
from simulator.store import RecordStore

MAX_PER_PAGE = 200


def _invalid(param: str, message: str) -> FatalApiError:
    return FatalApiError(400, "INVALID_DATA", message, {"param_name": param})


def _store(ctx: CallContext, module: str) -> RecordStore:
    store = ctx.state.store(ctx.org.key, ctx.product, module)
    if store is None:
        raise FatalApiError(400, "INVALID_MODULE", "the module name given seems to be invalid")
    return store


def _since(request: Request) -> float | None:
    header = request.headers.get("If-Modified-Since")
    if not header:
        return None
    try:
        return parse_time(header)
    except ValueError:
        raise _invalid("If-Modified-Since", "If-Modified-Since must be ISO 8601") from None


def _modified_since(epoch: float) -> Any:
    threshold = pa.scalar(int(epoch), pa.timestamp("s", tz="UTC"))

    def predicate(table: pa.Table) -> pa.Array:
        modified = pc.strptime(table["Modified_Time"], format="%Y-%m-%dT%H:%M:%S%z", unit="s")
        return pc.fill_null(pc.greater_equal(modified, threshold), False)

    return predicate


def _json_fields(schema: ModuleSchema, parent: Any, names: list[str]) -> list[str]:
    """Extra dotted columns needed to render lookups as ``{"name", "id"}``."""
    extra: list[str] = []
    for name in names:
        spec = schema.field(name)
        if spec is None or not spec.is_lookup:
            continue
        if spec.data_type == "ownerlookup":
            extra += [f"{name}.full_name", f"{name}.email"]
        else:
            parent_schema = parent(spec.lookup or "")
            if parent_schema is not None:
                extra.append(f"{name}.{parent_schema.display_field}")
    return extra


def _typed(schema: ModuleSchema, parent: Any, name: str, row: dict[str, Any]) -> Any:
    value = row.get(name)
    spec = schema.field(name)
    if value is None or spec is None:
        return value
    kind = spec.data_type
    if kind == "integer":
        return int(value)
    if kind in ("double", "currency", "percent"):
        return float(value)
    if kind == "boolean":
        return value == "true"
    if kind == "multiselectpicklist":
        return value.split(";")
    if kind == "ownerlookup":
        return {
            "name": row.get(f"{name}.full_name"),
            "id": value,
            "email": row.get(f"{name}.email"),
        }
    if kind == "lookup":
        parent_schema = parent(spec.lookup or "")
        display = row.get(f"{name}.{parent_schema.display_field}") if parent_schema else None
        return {"name": display, "id": value}
    return value


def _parse_paging(page: str, per_page: str) -> tuple[int, int]:
    try:
        page_no, size = int(page), int(per_page)
    except ValueError:
        raise _invalid("page", "page and per_page must be integers") from None
    if page_no < 1 or size < 1:
        raise _invalid("page", "page and per_page must be positive")
    return page_no, min(size, MAX_PER_PAGE)


def _get_records(
    ctx: CallContext,
    module: str,
    request: Request,
    fields: str | None,
    page: str,
    per_page: str,
    page_token: str | None,
) -> Response:
    state = ctx.state
    store = _store(ctx, module)
    schema = store.schema
    crm = ctx.product == "crm"
    parent = lambda m: state.schema(ctx.org.key, ctx.product, m)  # noqa: E731
    page_no, size = _parse_paging(page, per_page)
    since = _since(request)
    start_slot, skip = 0, (page_no - 1) * size
    if page_token is not None and not crm:
        raise _invalid("page_token", "page_token is not supported in this API version")
    if page_token is not None:
        cursor = state.cursors.decode(page_token)
        if (
            cursor is None
            or cursor.get("kind") != "rest"
            or cursor["org"] != ctx.org.key
            or cursor["module"] != module
            or state.clock.now() > cursor["created_at"] + state.config.page_token_ttl
        ):
            raise _invalid("page_token", "the page_token is invalid or has expired")
        start_slot, skip, page_no, since = cursor["slot"], 0, cursor["page"], cursor["since"]
        fields = fields or ",".join(cursor["fields"])
    if not fields and not crm:
        fields = ",".join(schema.names)  # Recruit v2: all fields when none are named
    if not fields:
        raise FatalApiError(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            {"param_name": "fields"},
        )
    names = list(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
    if crm and len(names) > state.config.rest_max_fields:
        raise FatalApiError(
            400,
            "LIMIT_EXCEEDED",
            f"the number of fields exceeds the limit of {state.config.rest_max_fields}",
            {"api_name": "fields", "limit": state.config.rest_max_fields},
        )
    for name in names:
        if resolve_field(name, schema, parent) is None:
            raise _invalid("fields", f"the field {name} is not available in {module}")
    if crm and page_token is None and page_no * size > state.config.rest_discrete_limit:
        raise FatalApiError(
            400,
            "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
            "The number of records that can be fetched with page has exceeded its limit. "
            "Use page_token to fetch more records.",
            {"limit": state.config.rest_discrete_limit},
        )
    needed = list(dict.fromkeys(["id", *names, *_json_fields(schema, parent, names)]))
    if since is not None and "Modified_Time" not in needed:
        needed.append("Modified_Time")
    predicate = _modified_since(since) if since is not None else None
    scan = PageScan(
        store,
        needed,
        predicate,
        start_slot,
        skip,
        size,
        ["Modified_Time"] if since is not None else [],
    )
    rows: list[dict[str, Any]] = []
    for table in scan:
        rows.extend(table.to_pylist())
    if not rows:
        return Response(status_code=304 if since is not None else 204)
    data = [
        {"id": row["id"], **{n: _typed(schema, parent, n, row) for n in names if n != "id"}}
        for row in rows
    ]
    info: dict[str, Any] = {
        "per_page": size,
        "count": len(data),
        "page": page_no,
        "sort_by": "id",
        "sort_order": "asc",
        "more_records": scan.next_slot is not None,
        "next_page_token": None,
        "previous_page_token": None,
        "page_token_expiry": None,
    }
    if not crm:
        info = {k: info[k] for k in ("per_page", "count", "page", "more_records")}
    elif scan.next_slot is not None:
        now = state.clock.now()
        cursor = {
            "kind": "rest",
            "org": ctx.org.key,
            "module": module,
            "fields": names,
            "slot": scan.next_slot,
            "page": page_no + 1,
            "since": since,
            "created_at": now,
        }
        info["next_page_token"] = state.cursors.encode(cursor)
        info["page_token_expiry"] = format_time(
            now + state.config.page_token_ttl, ctx.org.utc_offset_minutes
        )
    return JSONResponse({"data": data, "info": info})


def _deleted_records(
    ctx: CallContext, module: str, request: Request, kind: str, page: str, per_page: str
) -> Response:
    store = _store(ctx, module)
    if kind not in ("all", "recycle", "permanent"):
        raise _invalid("type", "type must be all, recycle or permanent")
    page_no, size = _parse_paging(page, per_page)
    since = _since(request)
    records = [] if kind == "permanent" else store.deleted()
    if since is not None:
        records = [r for r in records if r.deleted_time >= since]
    chunk = records[(page_no - 1) * size : page_no * size]
    if not chunk:
        return Response(status_code=304 if since is not None else 204)
    users = {u.id: u for u in store.users}
    offset = ctx.org.utc_offset_minutes
    data = [
        {
            "deleted_by": {"name": r.deleted_by.full_name, "id": r.deleted_by.id},
            "id": r.id,
            "display_name": r.display_name,
            "type": "recycle",
            "created_by": {
                "name": users[r.created_by].full_name if r.created_by in users else None,
                "id": r.created_by,
            },
            "deleted_time": format_time(r.deleted_time, offset),
        }
        for r in chunk
    ]
    info = {
        "per_page": size,
        "count": len(data),
        "page": page_no,
        "more_records": page_no * size < len(records),
    }
    return JSONResponse({"data": data, "info": info})


def _get_record(ctx: CallContext, module: str, record_id: str) -> Response:
    store = _store(ctx, module)
    schema = store.schema
    parent = lambda m: ctx.state.schema(ctx.org.key, ctx.product, m)  # noqa: E731
    index = store.index_of(record_id)
    if index is None:
        return Response(status_code=204)
    names = schema.names
    needed = list(dict.fromkeys(["id", *names, *_json_fields(schema, parent, names)]))
    rows = PageScan(store, needed, None, index, 0, 1)
    row = next(iter(rows)).to_pylist()[0]
    record = {"id": row["id"], **{n: _typed(schema, parent, n, row) for n in names}}
    return JSONResponse({"data": [record]})


def _router(product: str, prefix: str, records_cost: int) -> APIRouter:
    """Get Records (``records_cost`` credits), deleted records and one record of a product."""
    router = APIRouter(prefix=prefix)
    call = Depends(api_call(product))
    records_call = Depends(api_call(product, cost=records_cost))

    @router.get("/{module}")
    def records(
        module: str,
        request: Request,
        ctx: CallContext = records_call,
        fields: str | None = None,
        page: str = "1",
        per_page: str = "200",
        page_token: str | None = None,
    ) -> Response:
        return _get_records(ctx, module, request, fields, page, per_page, page_token)

    @router.get("/{module}/deleted")
    def deleted(
        module: str,
        request: Request,
        ctx: CallContext = call,
        type: str = "all",
        page: str = "1",
        per_page: str = "200",
    ) -> Response:
        return _deleted_records(ctx, module, request, type, page, per_page)

    @router.get("/{module}/{record_id}")
    def record(module: str, record_id: str, ctx: CallContext = call) -> Response:
        return _get_record(ctx, module, record_id)

    return router


# CRM v8 and Recruit v2 (Recruit: no page_token, fields optional, Get Records costs 3 credits)
routers = [
    _router("crm", "/{dc}/api/crm/v8", records_cost=1),
    _router("recruit", "/{dc}/recruit/recruit/v2", records_cost=3),
]
