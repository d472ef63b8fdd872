"""The test/admin API under ``{base}/_sim`` (no auth: the simulator only listens on loopback).

Every route calls the ``SimState`` method of the same name, so in-process tests and other
processes (flows tests, the demo) control the simulator the same way.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulator.config import Edition, SimConfig
from simulator.deps import sim_state
from simulator.errors import FatalApiError

router = APIRouter(prefix="/_sim")


def _bad(message: str) -> FatalApiError:
    return FatalApiError(400, "INVALID_DATA", message)


def _not_found(message: str) -> FatalApiError:
    return FatalApiError(404, "RESOURCE_NOT_FOUND", message)


class Advance(BaseModel):
    seconds: float = Field(ge=0)


class FaultIn(BaseModel):
    kind: str
    count: int = 1
    path: str = "*"
    status: int = 503
    seconds: float = 0.0
    fraction: float = 0.5
    org: str | None = None


class Revoke(BaseModel):
    org: str
    what: str = "both"  # "refresh" | "access" | "both"


class Values(BaseModel):
    values: dict[str, str | None]


class Drift(BaseModel):
    action: str  # "add" | "remove" | "change_type"
    field: str
    data_type: str = "text"


@router.post("/reset")
def reset(request: Request) -> dict[str, str]:
    sim_state(request).reset()
    return {"status": "reset"}


@router.get("/orgs")
def orgs(request: Request) -> dict[str, Any]:
    """The simulated orgs with their (fake) OAuth client credentials."""
    state = sim_state(request)
    return {"orgs": [asdict(o) for o in state.orgs.values()]}


@router.get("/clock")
def clock(request: Request) -> dict[str, float]:
    state = sim_state(request)
    return {"now": state.clock.now(), "offset": state.clock.offset}


@router.post("/clock/advance")
def advance(body: Advance, request: Request) -> dict[str, float]:
    return {"now": sim_state(request).clock.advance(body.seconds)}


@router.get("/faults")
def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": sim_state(request).faults.active()}


@router.post("/faults")
def add_fault(body: FaultIn, request: Request) -> dict[str, Any]:
    options = body.model_dump()
    kind = options.pop("kind")
    try:
        fault = sim_state(request).add_fault(kind, **options)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return {"fault": fault.to_json()}


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, str]:
    sim_state(request).clear_faults()
    return {"status": "cleared"}


@router.post("/tokens/revoke")
def revoke(body: Revoke, request: Request) -> dict[str, Any]:
    state = sim_state(request)
    try:
        revoked = 0
        if body.what in ("refresh", "both"):
            state.revoke_refresh_token(body.org)
        if body.what in ("access", "both"):
            revoked = state.revoke_access_tokens(body.org)
    except KeyError as exc:
        raise _not_found(str(exc)) from None
    return {"revoked_access_tokens": revoked}


@router.get("/records/{org}/{product}/{module}/{record_id}")
def get_record(org: str, product: str, module: str, record_id: str, request: Request) -> Any:
    try:
        record = sim_state(request).get_record(org, product, module, record_id)
    except KeyError as exc:
        raise _not_found(str(exc)) from None
    if record is None:
        raise _not_found(f"{module} has no record {record_id}")
    return {"record": record}


@router.post("/records/{org}/{product}/{module}", status_code=201)
def insert_record(org: str, product: str, module: str, body: Values, request: Request) -> Any:
    try:
        record_id = sim_state(request).insert_record(org, product, module, body.values)
    except KeyError as exc:
        raise _bad(str(exc)) from None
    return JSONResponse({"id": record_id}, status_code=201)


@router.patch("/records/{org}/{product}/{module}/{record_id}")
def update_record(
    org: str, product: str, module: str, record_id: str, body: Values, request: Request
) -> dict[str, str]:
    try:
        sim_state(request).update_record(org, product, module, record_id, body.values)
    except KeyError as exc:
        raise _not_found(str(exc)) from None
    return {"id": record_id}


@router.delete("/records/{org}/{product}/{module}/{record_id}")
def delete_record(
    org: str, product: str, module: str, record_id: str, request: Request
) -> dict[str, str]:
    try:
        sim_state(request).delete_record(org, product, module, record_id)
    except KeyError as exc:
        raise _not_found(str(exc)) from None
    return {"id": record_id}


@router.post("/schema/{org}/{product}/{module}")
def drift(org: str, product: str, module: str, body: Drift, request: Request) -> dict[str, Any]:
    state = sim_state(request)
    try:
        if body.action == "add":
            state.add_field(org, product, module, body.field, body.data_type)
        elif body.action == "remove":
            state.remove_field(org, product, module, body.field)
        elif body.action == "change_type":
            state.change_field_type(org, product, module, body.field, body.data_type)
        else:
            raise _bad(f"unknown action {body.action!r}; use add, remove or change_type")
    except (KeyError, ValueError) as exc:
        raise _bad(str(exc)) from None
    schema = state.schema(org, product, module)
    return {"fields": schema.names if schema else []}


_CONFIG_FIELDS = {f.name for f in fields(SimConfig)} - {"orgs", "editions"}


@router.get("/config")
def get_config(request: Request) -> dict[str, Any]:
    config = sim_state(request).config
    return {name: _jsonable(getattr(config, name)) for name in sorted(_CONFIG_FIELDS)}


@router.patch("/config")
def patch_config(body: dict[str, Any], request: Request) -> dict[str, Any]:
    unknown = sorted(set(body) - _CONFIG_FIELDS - {"editions"})
    if unknown:
        raise _bad(f"unknown config keys: {', '.join(unknown)}")
    state = sim_state(request)
    try:
        state.configure(**_config_changes(state.config, body))
    except (TypeError, ValueError, AttributeError) as exc:
        raise _bad(f"invalid config: {exc}") from None
    return get_config(request)


def _config_changes(config: SimConfig, body: dict[str, Any]) -> dict[str, Any]:
    """JSON config changes as ``SimConfig`` values (records and editions are merged)."""
    changes = dict(body)
    if "job_seconds" in changes:
        low, high = changes["job_seconds"]
        changes["job_seconds"] = (float(low), float(high))
    if "records" in changes:
        changes["records"] = {**config.records, **changes["records"]}
    if "editions" in changes:
        editions = dict(config.editions)
        for name, values in changes["editions"].items():
            current = asdict(editions[name]) if name in editions else {"name": name}
            editions[name] = Edition(**{**current, **values})
        changes["editions"] = editions
    return changes


@router.get("/stats")
def stats(request: Request) -> dict[str, Any]:
    return sim_state(request).stats.snapshot()


@router.get("/jobs")
def jobs(request: Request) -> dict[str, Any]:
    state = sim_state(request)
    now = state.clock.now()
    return {
        "jobs": [
            {
                "id": j.id,
                "org": j.org_key,
                "product": j.product,
                "module": j.spec.module,
                "state": j.state(now),
                "page": j.spec.page,
                # epoch seconds of the simulator clock (benchmarks: server-side job time)
                "created_at": j.created_at,
                "completed_at": j.completed_at() if j.done.is_set() else None,
            }
            for j in list(state.jobs.values())
        ]
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items"):
        return dict(value)
    return value
