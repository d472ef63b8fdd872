"""Zoho CRM (API v8) and Zoho Recruit (API v2) differences, expressed as data.

Clients read a ``Product`` instead of branching on the product name. Facts:
``shared/docs/zoho-bulk-api.md`` §1 (CRM bulk read), §2 (bulk write), §3 (Recruit), §4 (hosts).

- Hosts: CRM calls go to the token's ``api_domain`` (``www.zohoapis.{dc}``); Recruit calls go
  to ``recruit.zoho.{dc}`` and ignore ``api_domain`` (which still names zohoapis).
- Bulk read query: CRM v8 sends ``module`` as ``{"api_name": ...}`` and criteria fields as
  ``{"field": {"api_name": ...}}``; Recruit v2 sends ``module`` as a string and
  ``"api_name"`` on the criterion (UNCERTAIN whether Recruit also takes the object form).
- Paging past one bulk page: CRM follows ``next_page_token``; Recruit has no tokens and
  asks for ``page`` N+1.
- Bulk write create: CRM v8 sends ``resource[].module`` as ``{"api_name": ...}`` and
  ``ignore_empty`` at the top level (v8 added it there, §6); Recruit v2 has "the same keys as
  CRM v2" (§3): ``module`` a plain string and ``ignore_empty`` on the resource, as the v2
  model has it. UNCERTAIN: §3 does not list ``ignore_empty`` for Recruit at all; on the
  resource is where a v2 API reads it, if it does.
- Upload: CRM's files host (``content.zohoapis.{dc}``) vs Recruit's (``upload.zoho.{dc}``,
  §3, §7.1); org header ``X-CRM-ORG`` vs ``X-RECRUIT-ORG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from connectors.credits import CRM_COSTS, RECRUIT_COSTS, CallType
from connectors.datacenters import Endpoints


class BulkPaging(StrEnum):
    """How a bulk read asks for the records after the first 200,000."""

    PAGE_TOKEN = "page_token"  # noqa: S105 (a paging mode)
    PAGE = "page"


@dataclass(frozen=True)
class Product:
    """Everything that differs between Zoho CRM and Zoho Recruit for these clients."""

    name: str
    label: str
    api_version: str
    #: ``Endpoints`` attribute holding this product's API host.
    host: str
    honours_api_domain: bool
    bulk_read_path: str
    bulk_write_path: str
    #: ``Endpoints`` attribute holding this product's bulk write upload host.
    upload_host: str
    upload_path: str
    #: ``{module}`` is replaced by the module API name.
    records_path: str
    deleted_records_path: str
    metadata_fields_path: str
    org_header: str
    module_as_object: bool
    criteria_field_as_object: bool
    #: Bulk write: ``ignore_empty`` on each resource (v2) instead of the top level (v8).
    ignore_empty_on_resource: bool
    bulk_paging: BulkPaging
    #: REST Get Records: does ``info.next_page_token`` exist (CRM v8) or only ``page``?
    rest_page_token: bool
    credit_costs: Mapping[CallType, int]
    max_criteria: int = 25
    max_fields: int = 200
    bulk_page_size: int = 200_000
    max_bulk_page: int = 500
    rest_per_page: int = 200
    #: CRM v8 Get Records needs ``fields`` (at most 50); Recruit v2 returns all by default.
    rest_fields_required: bool = False
    rest_max_fields: int = 50

    def base_url(self, endpoints: Endpoints, api_domain: str | None) -> str:
        """Base URL of this product's API for an org (no trailing slash)."""
        if self.honours_api_domain:
            return endpoints.crm_api_for(api_domain)
        return str(getattr(endpoints, self.host))

    def module_ref(self, module: str) -> object:
        """The ``query.module`` (bulk read) or ``resource[].module`` (bulk write) value."""
        return {"api_name": module} if self.module_as_object else module

    def upload_url(self, endpoints: Endpoints) -> str:
        """The bulk write upload endpoint on this product's files host."""
        return str(getattr(endpoints, self.upload_host)) + self.upload_path

    def write_job_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A bulk write create body in this product's shape.

        ``body`` may name each resource's module either way and give ``ignore_empty`` at the
        top level; the result has ``module`` as ``module_ref`` makes it and ``ignore_empty``
        where this API version reads it.
        """
        shaped = dict(body)
        ignore_empty = shaped.pop("ignore_empty", None)
        resources = []
        for raw in shaped.get("resource") or []:
            resource = dict(raw)
            module = resource.get("module")
            if isinstance(module, Mapping):
                module = module.get("api_name")
            if module is not None:
                resource["module"] = self.module_ref(str(module))
            if self.ignore_empty_on_resource and ignore_empty is not None:
                resource.setdefault("ignore_empty", ignore_empty)
            resources.append(resource)
        if "resource" in shaped:
            shaped["resource"] = resources
        if not self.ignore_empty_on_resource and ignore_empty is not None:
            shaped["ignore_empty"] = ignore_empty
        return shaped


CRM = Product(
    name="crm",
    label="Zoho CRM",
    api_version="v8",
    host="crm_api",
    honours_api_domain=True,
    bulk_read_path="/crm/bulk/v8/read",
    bulk_write_path="/crm/bulk/v8/write",
    upload_host="upload",
    upload_path="/crm/v8/upload",
    records_path="/crm/v8/{module}",
    deleted_records_path="/crm/v8/{module}/deleted",
    metadata_fields_path="/crm/v8/settings/fields",
    org_header="X-CRM-ORG",
    module_as_object=True,
    criteria_field_as_object=True,
    ignore_empty_on_resource=False,
    bulk_paging=BulkPaging.PAGE_TOKEN,
    rest_page_token=True,
    credit_costs=CRM_COSTS,
    rest_fields_required=True,
)

RECRUIT = Product(
    name="recruit",
    label="Zoho Recruit",
    api_version="v2",
    host="recruit",
    honours_api_domain=False,
    bulk_read_path="/recruit/bulk/v2/read",
    bulk_write_path="/recruit/bulk/v2/write",
    upload_host="recruit_upload",
    upload_path="/recruit/v2/upload",
    records_path="/recruit/v2/{module}",
    deleted_records_path="/recruit/v2/{module}/deleted",
    metadata_fields_path="/recruit/v2/settings/fields",
    org_header="X-RECRUIT-ORG",
    module_as_object=False,
    criteria_field_as_object=False,
    ignore_empty_on_resource=True,
    bulk_paging=BulkPaging.PAGE,
    rest_page_token=False,
    credit_costs=RECRUIT_COSTS,
)

PRODUCTS: Mapping[str, Product] = {p.name: p for p in (CRM, RECRUIT)}


def product_for(name: str | Product) -> Product:
    """``"crm"`` / ``"recruit"`` (case-insensitive) or a ``Product`` -> ``Product``."""
    if isinstance(name, Product):
        return name
    try:
        return PRODUCTS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown Zoho product {name!r}; known: {sorted(PRODUCTS)}") from None
