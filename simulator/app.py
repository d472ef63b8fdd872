"""The FastAPI application: routers, Zoho-shaped error answers, and the call middleware.

``create_app(state)`` builds the app around a ``SimState``. The pure-ASGI ``SimMiddleware``
answers injected ``status`` faults, adds ``X-API-CREDITS-REMAINING`` to authenticated
answers, releases the org's in-flight slot when a response (even a streamed one) ends, and
counts every call by route template for ``/_sim/stats``.

``ROUTERS`` lists every router, one or more per Zoho host and product, in matching order.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator import (
    routes_admin,
    routes_bulk_read,
    routes_bulk_write,
    routes_metadata,
    routes_oauth,
    routes_rest,
    upload,
)
from simulator.creator import routes_admin as creator_admin
from simulator.creator import routes_bulk as creator_bulk
from simulator.creator import routes_data as creator_data
from simulator.creator import routes_meta as creator_meta
from simulator.deps import inner_path
from simulator.downloads import quiet_dropped_connections
from simulator.errors import OAuthError, ZohoApiError, internal_error, too_many_requests
from simulator.state import SimState

ROUTERS = (
    routes_oauth.router,
    routes_metadata.crm_router,
    routes_metadata.recruit_router,
    *routes_bulk_read.routers,
    *routes_rest.routers,
    routes_admin.router,
    routes_bulk_write.crm_router,
    routes_bulk_write.recruit_router,
    routes_bulk_write.download_router,
    upload.router,
    upload.recruit_router,
    creator_meta.router,
    creator_data.router,
    creator_bulk.router,
    creator_admin.router,
)
_IDS = re.compile(r"/\d{6,}(?=/|$)")


def create_app(state: SimState) -> FastAPI:
    app = FastAPI(title="Zoho simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = state
    quiet_dropped_connections()
    for router in ROUTERS:
        app.include_router(router)
    _install_error_handlers(app, state)
    app.add_middleware(SimMiddleware, state=state)
    return app


def _install_error_handlers(app: FastAPI, state: SimState) -> None:
    @app.exception_handler(ZohoApiError)
    async def zoho_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ZohoApiError)
        state.stats.count(state.stats.errors, exc.code)
        headers = _retry_after(state, exc.status_code)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(OAuthError)
    async def oauth_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OAuthError)
        state.stats.count(state.stats.errors, exc.error)
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            error = ZohoApiError(
                400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
            )
        else:
            error = ZohoApiError(
                404,
                "INVALID_URL_PATTERN",
                "Please check if the URL trying to access is a correct one",
            )
        return JSONResponse(error.body(), status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        names = [str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()]
        error = ZohoApiError(
            400,
            "INVALID_DATA",
            "Please check whether the input values are correct",
            {"param_name": names[0] if names else None},
        )
        return JSONResponse(error.body(), status_code=400)


class SimMiddleware:
    """Status faults, the credits header, in-flight release and call counting."""

    def __init__(self, app: ASGIApp, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        path: str = scope["path"]
        scope_state: dict[str, Any] = scope.setdefault("state", {})
        if not path.startswith("/_sim"):
            fault = state.faults.take("status", inner_path(path), _caller_org(state, scope))
            if fault is not None:
                error = (
                    too_many_requests("fault")
                    if fault.status == 429
                    else internal_error(fault.status)
                )
                state.stats.count(state.stats.calls, f"{scope['method']} {_template(path)}")
                state.stats.count(state.stats.errors, error.code)
                headers = _retry_after(state, error.status_code)
                if fault.status == 429 and fault.seconds > 0:
                    headers = {"Retry-After": str(round(fault.seconds))}
                await _send_json(send, error.status_code, error.body(), headers)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                org_key = scope_state.get("sim_org")
                if org_key and state.config.credits_header and org_key in state.orgs:
                    remaining = str(state.credits_remaining(org_key)).encode()
                    headers = list(message.get("headers", []))
                    headers.append((b"x-api-credits-remaining", remaining))
                    message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            org_key = scope_state.pop("sim_inflight", None)
            if org_key:
                state.in_flight.leave(org_key)
            route = scope.get("route")
            template = getattr(route, "path", None) or _template(path)
            state.stats.count(state.stats.calls, f"{scope['method']} {template}")


def _caller_org(state: SimState, scope: Scope) -> str | None:
    """The org of the request's access token, if it has a valid one (for org-scoped faults)."""
    headers = dict(scope.get("headers") or [])
    authorization = headers.get(b"authorization")
    dc = str(scope["path"]).split("/", 2)[1] if str(scope["path"]).count("/") > 1 else ""
    if not authorization:
        return None
    try:
        return state.tokens.validate(authorization.decode("latin-1"), dc)
    except ZohoApiError:
        return None


def _retry_after(state: SimState, status: int) -> dict[str, str]:
    seconds = state.config.retry_after
    return {"Retry-After": str(seconds)} if status == 429 and seconds is not None else {}


def _template(path: str) -> str:
    return _IDS.sub("/{id}", path)


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str]
) -> None:
    payload = json.dumps(body).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
