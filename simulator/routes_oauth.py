"""``POST /{dc}/accounts/oauth/v2/token``: the refresh-token grant of Zoho Accounts.

Parameters may come as query parameters (Zoho's docs) or as a form body (the SDKs). Errors
are HTTP 200 with ``{"error": "invalid_code"}`` (or ``invalid_client``...), as Zoho answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.deps import check_dc, sim_state
from simulator.errors import OAuthError

router = APIRouter(prefix="/{dc}/accounts")


@router.post("/oauth/v2/token")
async def token(request: Request, dc: str) -> JSONResponse:
    check_dc(dc)
    state = sim_state(request)
    params: dict[str, Any] = dict(request.query_params)
    if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    grant = params.get("grant_type")
    if grant != "refresh_token":
        raise OAuthError("unsupported_grant_type" if grant else "invalid_request")
    org, access_token = state.tokens.refresh(
        list(state.orgs.values()),
        dc,
        str(params.get("client_id", "")),
        str(params.get("client_secret", "")),
        str(params.get("refresh_token", "")),
        state.config.token_ttl,
        state.config.token_rate_limit,
    )
    state.stats.count(state.stats.tokens_issued, org.key)
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "access_token": access_token,
            "scope": "ZohoCRM.modules.ALL ZohoCRM.bulk.ALL ZohoCRM.settings.ALL "
            "ZohoRecruit.modules.ALL ZohoRecruit.bulk.ALL ZohoFiles.files.ALL",
            "api_domain": f"{base}/{dc}/api",
            "token_type": "Bearer",
            "expires_in": int(state.config.token_ttl),
        }
    )
