"""Field metadata (CRM ``/crm/v8/settings/fields``, Recruit ``/recruit/v2/settings/fields``)
and the CRM organization API (``/crm/v8/org``, which gives the zgid for ``X-CRM-ORG``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from simulator.deps import CallContext, CrmCall, RecruitCall
from simulator.errors import FatalApiError

crm_router = APIRouter(prefix="/{dc}/api")
recruit_router = APIRouter(prefix="/{dc}/recruit")


def _fields(ctx: CallContext, module: str | None) -> JSONResponse:
    if not module:
        raise FatalApiError(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            {"param_name": "module"},
        )
    schema = ctx.state.schema(ctx.org.key, ctx.product, module)
    if schema is None:
        raise FatalApiError(400, "INVALID_MODULE", "the module name given seems to be invalid", {})
    module_id = str(ctx.org.id_prefix * 10**12 + 2_175 + schema.number)
    fields = [
        spec.metadata(str(ctx.org.id_prefix * 10**12 + schema.number * 1000 + n), module_id)
        for n, spec in enumerate(schema.fields, start=1)
    ]
    return JSONResponse({"fields": fields})


@crm_router.get("/crm/v8/settings/fields")
def crm_fields(ctx: CrmCall, module: str | None = None) -> JSONResponse:
    return _fields(ctx, module)


@recruit_router.get("/recruit/v2/settings/fields")
def recruit_fields(ctx: RecruitCall, module: str | None = None) -> JSONResponse:
    return _fields(ctx, module)


@crm_router.get("/crm/v8/org")
def organization(ctx: CrmCall) -> JSONResponse:
    org = ctx.org
    edition = ctx.state.config.edition_of(org)
    return JSONResponse(
        {
            "org": [
                {
                    "id": str(org.id_prefix * 10**12 + 1),
                    "zgid": org.zgid,
                    "company_name": org.name,
                    "domain_name": f"org{org.zgid}",
                    "primary_email": "admin@example.com",
                    "currency": "USD",
                    "license_details": {"paid_type": edition.name, "paid": edition.name != "free"},
                }
            ]
        }
    )
