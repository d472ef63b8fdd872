"""Meta API v2.1: applications, reports, forms and fields (HTTP 200, ``code`` 3000)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from simulator.creator import errors
from simulator.creator.deps import PREFIX, CreatorCall, creator_call
from simulator.creator.model import CreatorApp

router = APIRouter(prefix=PREFIX + "/meta")

Dashboard = Annotated[CreatorCall, Depends(creator_call("dashboard.READ", "meta/applications"))]
AppMeta = Annotated[CreatorCall, Depends(creator_call("meta.application.READ", "meta/app"))]
FormMeta = Annotated[CreatorCall, Depends(creator_call("meta.form.READ", "meta/fields"))]


def _application(app: CreatorApp, owner: str) -> dict[str, object]:
    return {
        "application_name": app.application_name,
        "link_name": app.link_name,
        "date_format": app.date_format,
        "time_zone": app.time_zone,
        "creation_date": app.creation_date,
        "category": app.category,
        "created_by": owner,
        "workspace_name": owner,
    }


def _applications(ctx: CreatorCall) -> JSONResponse:
    owner = ctx.account.owner
    apps = [_application(app, owner) for app in ctx.creator.config.apps]
    return JSONResponse({"code": 3000, "applications": apps})


@router.get("/applications")
def applications(ctx: Dashboard) -> JSONResponse:
    return _applications(ctx)


@router.get("/{owner}/applications")
def owner_applications(ctx: Dashboard, owner: str) -> JSONResponse:
    if owner != ctx.account.owner:
        raise errors.no_owner()
    return _applications(ctx)


@router.get("/{owner}/{app}/reports")
def reports(ctx: AppMeta, owner: str, app: str) -> JSONResponse:
    found = ctx.creator.app(ctx.org, owner, app)
    if not found.reports:
        return JSONResponse({"code": 3930, "message": "No reports found."})
    listed = [
        {"display_name": r.display_name, "link_name": r.link_name, "type": r.type}
        for r in found.reports
    ]
    return JSONResponse({"code": 3000, "reports": listed})


@router.get("/{owner}/{app}/forms")
def forms(ctx: AppMeta, owner: str, app: str) -> JSONResponse:
    found = ctx.creator.app(ctx.org, owner, app)
    if not found.forms:
        return JSONResponse({"code": 3910, "message": "No forms found."})
    listed = [
        {"display_name": f.display_name, "link_name": f.link_name, "type": 1} for f in found.forms
    ]
    return JSONResponse({"code": 3000, "forms": listed})


@router.get("/{owner}/{app}/form/{form}/fields")
def fields(ctx: FormMeta, owner: str, app: str, form: str) -> JSONResponse:
    found = ctx.creator.app(ctx.org, owner, app).form(form)
    if found is None:
        raise errors.no_form()
    return JSONResponse({"code": 3000, "fields": [f.metadata() for f in found.fields]})
