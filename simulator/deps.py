"""FastAPI dependencies every simulated Zoho API route uses.

``api_call(product, cost)`` authenticates the ``Authorization`` header for the data centre in
the path, enforces the org's concurrency, charges credits, applies ``delay`` faults and
returns a ``CallContext``. Routers added later (bulk write, upload) use it the same way::

    @router.post("/crm/bulk/v8/write", status_code=201)
    def create(ctx: CallContext = Depends(api_call("crm", cost=500))) -> JSONResponse: ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from simulator.config import DATA_CENTRES, OrgSpec
from simulator.errors import invalid_url_pattern
from simulator.state import SimState

API_PREFIX = {"crm": "/crm/bulk/v8", "recruit": "/recruit/bulk/v2"}


@dataclass(frozen=True)
class CallContext:
    """One authenticated API call: who (org), where (dc), which product."""

    state: SimState
    org: OrgSpec
    dc: str
    product: str
    path: str  # the request path below /{dc}/{service}

    @property
    def bulk_prefix(self) -> str:
        return API_PREFIX[self.product]


def sim_state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def inner_path(path: str) -> str:
    """``/us/api/crm/bulk/v8/read`` -> ``/crm/bulk/v8/read``."""
    parts = path.split("/", 3)
    return "/" + parts[3] if len(parts) > 3 else "/"


def check_dc(dc: str) -> None:
    if dc not in DATA_CENTRES:
        raise invalid_url_pattern()


def api_call(product: str, cost: int = 1) -> Callable[..., CallContext]:
    """A dependency: authenticate, then count the call against concurrency and credits."""

    def dependency(request: Request, dc: str) -> CallContext:
        check_dc(dc)
        state = sim_state(request)
        org_key = state.tokens.validate(request.headers.get("Authorization"), dc)
        org = state.org(org_key)
        scope_state: dict[str, Any] = request.scope.setdefault("state", {})
        scope_state["sim_org"] = org.key
        state.in_flight.enter(org.key, state.config.edition_of(org).concurrency)
        scope_state["sim_inflight"] = org.key
        path = inner_path(request.url.path)
        delay = state.faults.take("delay", path, org.key)
        if delay is not None:
            time.sleep(delay.seconds)
        state.charge(org.key, cost)
        return CallContext(state, org, dc, product, path)

    return dependency


CrmCall = Annotated[CallContext, Depends(api_call("crm"))]
RecruitCall = Annotated[CallContext, Depends(api_call("recruit"))]
