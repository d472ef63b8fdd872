"""Field definitions of every simulated module, and their field-metadata JSON.

A ``FieldDef`` says what the metadata API reports (``data_type``, ``json_type``, length,
picklist values, lookup target, flags) and how ``generator`` makes its values (``kind``).
``ModuleSchema`` is the ordered field list of one module in one org; schema drift (a field
added, removed or changing type) replaces it with a modified copy. The modules an org
starts with are in `simulator.default_modules`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

JSON_TYPES: dict[str, str] = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "date": "string",
    "datetime": "string",
    "boolean": "boolean",
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "percent": "double",
}

DEFAULT_LENGTHS: dict[str, int] = {
    "text": 255,
    "textarea": 32_000,
    "email": 100,
    "phone": 30,
    "website": 255,
    "picklist": 120,
    "multiselectpicklist": 2_000,
    "integer": 9,
    "bigint": 19,
    "double": 16,
    "currency": 16,
    "percent": 5,
}


@dataclass(frozen=True)
class FieldDef:
    """One field of a simulated module."""

    api_name: str
    data_type: str
    kind: str = ""  # generator kind; "" means "by data_type"
    picklist: tuple[str, ...] = ()
    lookup: str | None = None  # target module of a lookup; "users" for owner lookups
    mandatory: bool = False
    unique: bool = False
    read_only: bool = False
    empty_pct: int = 0  # share of records (0-100) where the value is empty
    #: an external-id field (metadata ``external``): bulk read cannot export it (§1.1)
    external: bool = False

    @property
    def json_type(self) -> str:
        return JSON_TYPES[self.data_type]

    @property
    def is_lookup(self) -> bool:
        return self.data_type in ("lookup", "ownerlookup")

    @property
    def decimal_place(self) -> int | None:
        return 2 if self.data_type in ("double", "currency", "percent") else None

    def metadata(self, field_id: str, module_id: str) -> dict[str, Any]:
        """The field as ``GET /crm/v8/settings/fields`` describes it."""
        lookup: dict[str, Any] = {}
        if self.data_type == "lookup" and self.lookup:
            lookup = {
                "display_label": self.lookup.replace("_", " "),
                "api_name": self.api_name,
                "module": {"api_name": self.lookup, "id": module_id},
                "id": field_id,
            }
        elif self.data_type == "ownerlookup":
            lookup = {"module": {"api_name": "users", "id": None}}
        label = self.api_name.replace("_", " ")
        return {
            "api_name": self.api_name,
            "id": field_id,
            "field_label": label,
            "display_label": label,
            "data_type": self.data_type,
            "json_type": self.json_type,
            "length": DEFAULT_LENGTHS.get(self.data_type),
            "decimal_place": self.decimal_place,
            "pick_list_values": [
                {"display_value": v, "actual_value": v, "id": f"{field_id}{i:03d}"}
                for i, v in enumerate(self.picklist)
            ],
            "lookup": lookup,
            "system_mandatory": self.mandatory,
            "unique": {"casesensitive": False} if self.unique else {},
            "read_only": self.read_only,
            "field_read_only": self.read_only,
            "custom_field": False,
            "external": (
                {"show": True, "type": "user", "allow_multiple_config": False}
                if self.external
                else None
            ),
        }


@dataclass(frozen=True)
class ModuleSchema:
    """The ordered fields of one module (``id`` is implicit and always present)."""

    product: str
    module: str
    number: int  # used in record ids: id_prefix * 10**12 + number * 10**10 + index
    display_field: str
    fields: tuple[FieldDef, ...]
    #: for a subform / line-item module: the module its rows belong to (via ``Parent_Id``)
    parent_module: str | None = None

    def field(self, api_name: str) -> FieldDef | None:
        for f in self.fields:
            if f.api_name == api_name:
                return f
        return None

    @property
    def names(self) -> list[str]:
        return [f.api_name for f in self.fields]

    @property
    def bulk_names(self) -> list[str]:
        """The fields a bulk read exports when asked for all of them (no external fields)."""
        return [f.api_name for f in self.fields if not f.external]

    def with_field_added(self, new: FieldDef) -> ModuleSchema:
        if self.field(new.api_name) is not None:
            raise ValueError(f"{self.module} already has a field {new.api_name}")
        return replace(self, fields=(*self.fields, new))

    def with_field_removed(self, api_name: str) -> ModuleSchema:
        if self.field(api_name) is None:
            raise ValueError(f"{self.module} has no field {api_name}")
        return replace(self, fields=tuple(f for f in self.fields if f.api_name != api_name))

    def with_field_type(self, api_name: str, data_type: str) -> ModuleSchema:
        if data_type not in JSON_TYPES or data_type in ("lookup", "ownerlookup"):
            raise ValueError(f"cannot change {api_name} to data type {data_type!r}")
        if self.field(api_name) is None:
            raise ValueError(f"{self.module} has no field {api_name}")
        return replace(
            self,
            fields=tuple(
                replace(f, data_type=data_type, kind="", picklist=default_picklist(data_type))
                if f.api_name == api_name
                else f
                for f in self.fields
            ),
        )


def default_picklist(data_type: str) -> tuple[str, ...]:
    if data_type in ("picklist", "multiselectpicklist"):
        return ("Alpha", "Beta", "Gamma", "Delta")
    return ()


#: modules Zoho cannot bulk-read (answered MODULE_NOT_SUPPORTED rather than "not available")
BULK_UNSUPPORTED_MODULES = frozenset({"Notes", "Attachments", "Emails"})
