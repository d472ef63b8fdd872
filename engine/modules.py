"""Module names the flows accept per product, checked before any call is made.

Standard modules are listed; custom modules are accepted by their API-name form
(CRM ``Something__c`` style, Recruit ``CustomModuleN``).
"""

from __future__ import annotations

import re
from typing import Literal

from engine.errors import UnknownModuleError, UsageError

ProductName = Literal["crm", "recruit"]

STANDARD_MODULES: dict[str, tuple[str, ...]] = {
    "crm": (
        "Leads",
        "Contacts",
        "Accounts",
        "Deals",
        "Campaigns",
        "Tasks",
        "Cases",
        "Events",
        "Calls",
        "Solutions",
        "Products",
        "Vendors",
        "Price_Books",
        "Quotes",
        "Sales_Orders",
        "Purchase_Orders",
        "Invoices",
        "Appointments__s",
    ),
    "recruit": (
        "Candidates",
        "Job_Openings",
        "Interviews",
        "Clients",
        "Contacts",
        "Applications",
        "Departments",
        "Vendors",
    ),
}

_CUSTOM = {
    "crm": re.compile(r"^[A-Za-z][A-Za-z0-9_]*__[a-z]$"),
    "recruit": re.compile(r"^CustomModule\d+$"),
}


def validate_module(product: str, module: str) -> str:
    """Return ``module`` if the product has it; raise ``UnknownModuleError`` otherwise."""
    known = STANDARD_MODULES[validate_product(product)]
    if module in known or _CUSTOM[product].match(module):
        return module
    lowered = {m.lower(): m for m in known}
    if module.lower() in lowered:
        # Zoho API names are case-sensitive; say which one was meant.
        raise UnknownModuleError(product, module, (lowered[module.lower()],))
    raise UnknownModuleError(product, module, known)


def validate_product(product: str) -> ProductName:
    if product == "crm":
        return "crm"
    if product == "recruit":
        return "recruit"
    raise UsageError(f"unknown product {product!r}; choose crm or recruit")
