"""Creator's part of the admin API, under ``{base}/_sim/creator`` (no auth: loopback only).

Each route calls the ``CreatorState`` method of the same name, so other processes (flows
tests, the demo) control Creator the way in-process tests do: config (record counts, limits,
status spelling, CSV layout), scope revocation, record inserts and updates (for incremental
exports), locked records (3001 on delete) and the calls counted today.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from simulator.creator.state import CreatorState, creator_state
from simulator.deps import sim_state
from simulator.errors import FatalApiError

router = APIRouter(prefix="/_sim/creator")

#: config fields settable over HTTP (JSON values; apps and accounts stay in-process)
SETTABLE = frozenset(
    {
        "records",
        "per_minute",
        "bulk_creates_per_minute",
        "bulk_downloads_per_minute",
        "job_seconds",
        "cursor_ttl",
        "result_retention",
        "records_cursor_ttl",
        "status_spelling",
        "legacy_download_url",
        "csv_lookup",
        "csv_multi_separator",
        "no_records_status",
        "missing_criteria_status",
        "bulk_calls_count",
    }
)


class Values(BaseModel):
    values: dict[str, str | None]


class Ids(BaseModel):
    ids: list[str]


class Scope(BaseModel):
    org: str
    scope: str


def _creator(request: Request) -> CreatorState:
    return creator_state(sim_state(request))


def _bad(message: str) -> FatalApiError:
    return FatalApiError(400, "INVALID_DATA", message)


@router.patch("/config")
def configure(changes: dict[str, Any], request: Request) -> dict[str, Any]:
    unknown = sorted(set(changes) - SETTABLE)
    if unknown:
        raise _bad(f"cannot set {', '.join(unknown)}; settable: {', '.join(sorted(SETTABLE))}")
    if "job_seconds" in changes:
        changes["job_seconds"] = tuple(changes["job_seconds"])
    config = _creator(request).configure(**changes)
    return {name: getattr(config, name) for name in sorted(SETTABLE)}


@router.post("/scopes/revoke")
def revoke_scope(body: Scope, request: Request) -> dict[str, list[str]]:
    creator = _creator(request)
    creator.revoke_scope(body.org, body.scope)
    return {"granted": sorted(creator.granted(body.org))}


@router.post("/records/{org}/{app}/{form}")
def insert_record(org: str, app: str, form: str, body: Values, request: Request) -> dict[str, str]:
    try:
        return {"ID": _creator(request).insert_record(org, app, form, body.values)}
    except KeyError as exc:
        raise _bad(str(exc)) from None


@router.patch("/records/{org}/{app}/{form}/{record_id}")
def update_record(
    org: str, app: str, form: str, record_id: str, body: Values, request: Request
) -> dict[str, str]:
    try:
        _creator(request).update_record(org, app, form, record_id, body.values)
    except KeyError as exc:
        raise _bad(str(exc)) from None
    return {"ID": record_id}


@router.post("/locks/{org}/{app}/{form}")
def lock_records(org: str, app: str, form: str, body: Ids, request: Request) -> dict[str, int]:
    try:
        _creator(request).lock_records(org, app, form, body.ids)
    except KeyError as exc:
        raise _bad(str(exc)) from None
    return {"locked": len(body.ids)}


@router.get("/calls/{org}")
def calls_today(org: str, request: Request) -> dict[str, int]:
    """Developer API calls counted today (the account's local day) and the allowance."""
    creator = _creator(request)
    try:
        spec = creator.sim.org(org)
    except KeyError as exc:
        raise FatalApiError(404, "RESOURCE_NOT_FOUND", str(exc)) from None
    used = creator.daily.used(spec.key, spec.utc_offset_minutes)
    return {"used": used, "allowance": creator.account(spec).daily_allowance}
