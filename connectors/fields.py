"""Typed descriptions of Zoho fields, parsed from the field metadata API.

`GET /crm/v8/settings/fields?module=X` (and Recruit's equivalent) answers
``{"fields": [{"api_name": ..., "data_type": ..., ...}, ...]}``. `FieldSpec.from_api`
turns one of those objects into a frozen value that the rest of the toolkit (schema
mapping in ``transforms``, write-back validation) relies on. It is tolerant: keys that
Zoho leaves out or spells differently across versions fall back to safe defaults.
This module does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: A Zoho field API name: a letter, then letters, digits or underscores (``Last_Name``,
#: ``Custom_Field__c``...). Anything else cannot be a column of the warehouse either.
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: Bulk read's own pseudo fields (``$converted``, ``$editable``...).
PSEUDO_FIELD = re.compile(r"\$[A-Za-z][A-Za-z0-9_]*")

#: Zoho ``data_type`` values grouped by how their values look in a bulk CSV.
TEXT_TYPES = frozenset(
    {
        "text",
        "textarea",
        "email",
        "phone",
        "website",
        "picklist",
        "autonumber",
        "formula",
        "profileimage",
        "fileupload",
        "imageupload",
        "event_reminder",
        "RRULE",
        "ALARM",
    }
)
INTEGER_TYPES = frozenset({"integer", "bigint"})
DECIMAL_TYPES = frozenset({"double", "decimal", "currency", "percent"})
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})
MULTI_VALUE_TYPES = frozenset({"multiselectpicklist", "multiselectlookup", "multiuserlookup"})


@dataclass(frozen=True)
class FieldSpec:
    """One field of a Zoho module, as the metadata API describes it."""

    api_name: str
    data_type: str
    json_type: str | None = None
    label: str | None = None
    length: int | None = None
    decimal_place: int | None = None
    picklist_values: tuple[str, ...] = ()
    lookup_module: str | None = None
    mandatory: bool = False
    unique: bool = False
    read_only: bool = False
    #: an external-id field (metadata ``external`` set): bulk read cannot export it
    external: bool = False

    @property
    def is_lookup(self) -> bool:
        return self.data_type in LOOKUP_TYPES

    @property
    def is_multi_select(self) -> bool:
        return self.data_type in MULTI_VALUE_TYPES

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> FieldSpec:
        """Build a spec from one element of the metadata response's ``fields`` list."""
        api_name = raw.get("api_name")
        data_type = raw.get("data_type")
        if not isinstance(api_name, str) or not api_name:
            raise ValueError(f"field metadata without an api_name: keys {sorted(raw)}")
        if not isinstance(data_type, str) or not data_type:
            raise ValueError(f"field {api_name!r} has no data_type in its metadata")
        lookup = raw.get("lookup") or {}
        lookup_module = None
        if isinstance(lookup, Mapping):
            module = lookup.get("module")
            if isinstance(module, Mapping):
                lookup_module = module.get("api_name")
            elif isinstance(module, str):
                lookup_module = module
        if data_type in {"ownerlookup", "userlookup"} and lookup_module is None:
            lookup_module = "users"
        return cls(
            api_name=api_name,
            data_type=data_type,
            json_type=raw.get("json_type"),
            label=raw.get("field_label") or raw.get("display_label"),
            length=_optional_int(raw.get("length")),
            decimal_place=_optional_int(raw.get("decimal_place")),
            picklist_values=tuple(_picklist_values(raw.get("pick_list_values"))),
            lookup_module=lookup_module,
            mandatory=bool(raw.get("system_mandatory") or raw.get("required")),
            unique=_truthy_unique(raw.get("unique")),
            read_only=bool(raw.get("read_only") or raw.get("field_read_only")),
            external=bool(raw.get("external")),
        )


def is_field_reference(name: str) -> bool:
    """True for an API name, a lookup path (``Account_Name.Phone``) or a ``$`` pseudo field."""
    if PSEUDO_FIELD.fullmatch(name):
        return True
    return all(API_NAME.fullmatch(part) for part in name.split("."))


def _optional_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _picklist_values(values: Any) -> Iterable[str]:
    if not values:
        return ()
    out = []
    for item in values:
        if isinstance(item, Mapping):
            value = item.get("actual_value", item.get("display_value"))
        else:
            value = item
        if value is not None:
            out.append(str(value))
    return out


def _truthy_unique(value: Any) -> bool:
    # CRM v2 sends ``"unique": {}`` for non-unique fields and ``{"casesensitive": ...}``
    # for unique ones; later versions send a boolean. Accept both.
    if isinstance(value, Mapping):
        return bool(value)
    return bool(value)
