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
- Upload org header: ``X-CRM-ORG`` vs ``X-RECRUIT-ORG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

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
    upload_path: str
    #: ``{module}`` is replaced by the module API name.
    records_path: str
    deleted_records_path: str
    metadata_fields_path: str
    org_header: str
    module_as_object: bool
    criteria_field_as_object: bool
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
        """The ``query.module`` value of a bulk read request."""
        return {"api_name": module} if self.module_as_object else module


CRM = Product(
    name="crm",
    label="Zoho CRM",
    api_version="v8",
    host="crm_api",
    honours_api_domain=True,
    bulk_read_path="/crm/bulk/v8/read",
    bulk_write_path="/crm/bulk/v8/write",
    upload_path="/crm/v8/upload",
    records_path="/crm/v8/{module}",
    deleted_records_path="/crm/v8/{module}/deleted",
    metadata_fields_path="/crm/v8/settings/fields",
    org_header="X-CRM-ORG",
    module_as_object=True,
    criteria_field_as_object=True,
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
    upload_path="/recruit/v2/upload",
    records_path="/recruit/v2/{module}",
    deleted_records_path="/recruit/v2/{module}/deleted",
    metadata_fields_path="/recruit/v2/settings/fields",
    org_header="X-RECRUIT-ORG",
    module_as_object=False,
    criteria_field_as_object=False,
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
