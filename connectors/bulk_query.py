"""The bulk read query: what to export, its client-side checks, and its JSON forms.

``BulkReadQuery.to_body(product)`` builds the ``POST .../bulk/{ver}/read`` body in the
product's dialect (``shared/docs/zoho-bulk-api.md`` §1.2, §3): CRM v8 sends ``module`` as
``{"api_name": ...}`` and the next page as ``{"query": {"page_token": ...}}`` only; Recruit
sends ``module`` as a string and asks for ``page`` N. ``to_state`` / ``from_state`` give a
JSON-able form for a job ledger, so an export can resume after a crash.

``bulk_read_selection`` picks the fields a bulk read can export from a module's metadata and
says which it left out and why: the facts file lists one kind of field bulk read does not
support, external fields (§1.1, [AWS-GLUE]). Asking for one explicitly is refused by
``BulkReadQuery.validate`` before a job is created.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.criteria import (
    Condition,
    Criterion,
    Group,
    criteria_to_json,
    validate_criteria,
)
from connectors.errors import QueryValidationError
from connectors.fields import FieldSpec, is_field_reference
from connectors.products import Product

FILE_TYPES = frozenset({"csv", "ics"})

log = logging.getLogger("connectors.bulk_query")


def bulk_unreadable_reason(spec: FieldSpec) -> str | None:
    """Why bulk read cannot export this field, or ``None`` when it can."""
    if spec.external:
        return "external field: bulk read does not support external fields"
    return None


@dataclass(frozen=True)
class FieldSelection:
    """The fields a bulk read asks for, and the ones it leaves out (name -> reason)."""

    fields: tuple[FieldSpec, ...]
    left_out: Mapping[str, str]

    def describe(self) -> str:
        """``A (reason); B (reason)`` for a summary or a log line; empty when none."""
        return "; ".join(f"{name} ({reason})" for name, reason in self.left_out.items())


def bulk_read_selection(fields: Sequence[FieldSpec], module: str | None = None) -> FieldSelection:
    """Every field of ``fields`` a bulk read can export; logs one INFO line naming the rest."""
    kept: list[FieldSpec] = []
    left_out: dict[str, str] = {}
    for spec in fields:
        reason = bulk_unreadable_reason(spec)
        if reason is None:
            kept.append(spec)
        else:
            left_out[spec.api_name] = reason
    selection = FieldSelection(tuple(kept), left_out)
    if left_out:
        log.info(
            "bulk read of %s leaves out %d field(s) it cannot export: %s",
            module or "the module",
            len(left_out),
            selection.describe(),
        )
    return selection


@dataclass(frozen=True)
class BulkReadQuery:
    """What to export. ``page_token`` (CRM) or ``page`` (Recruit, CRM <= v6) selects the page."""

    module: str
    fields: tuple[str, ...] = ()
    criteria: Criterion | None = None
    cvid: str | None = None
    page: int = 1
    page_token: str | None = None
    file_type: str = "csv"

    def __post_init__(self) -> None:
        if not self.module:
            raise QueryValidationError("a bulk read query needs a module API name")
        object.__setattr__(self, "fields", tuple(self.fields))
        if len(set(self.fields)) != len(self.fields):
            dupes = sorted({f for f in self.fields if self.fields.count(f) > 1})
            raise QueryValidationError(f"duplicate fields in the {self.module} query: {dupes}")
        if self.page < 1:
            raise QueryValidationError(f"{self.module} query: page must be >= 1, got {self.page}")
        if self.file_type not in FILE_TYPES:
            raise QueryValidationError(
                f"{self.module} query: file_type must be csv or ics, got {self.file_type!r}"
            )
        if self.file_type == "ics" and self.fields:
            raise QueryValidationError(
                f"{self.module} query: ICS exports do not accept a field list"
            )

    def validate(self, product: Product, fields: Mapping[str, FieldSpec] | None = None) -> None:
        """Client-side checks: field count, criteria count, names and comparators.

        Every requested field must look like a Zoho API name even without ``fields``
        (metadata): a name that cannot be a column is refused here, before a job costs
        50 credits, not after its download.
        """
        check_field_names(self.module, self.fields)
        if len(self.fields) > product.max_fields:
            # Zoho would not refuse: it silently exports *all* fields instead.
            raise QueryValidationError(
                f"{len(self.fields)} fields requested for {self.module}; {product.label} "
                f"allows at most {product.max_fields} (more would export every field)",
                code="FIELD_LIMIT_EXCEEDED",
                details={"max_limit": product.max_fields},
            )
        if self.page > product.max_bulk_page:
            raise QueryValidationError(
                f"page {self.page} is past the last page {product.max_bulk_page}",
                code="PAGE_RANGE_EXCEEDED",
                details={"max_limit": product.max_bulk_page},
            )
        if self.criteria is not None:
            validate_criteria(self.criteria, fields, max_criteria=product.max_criteria)
        if fields is not None:
            for name in self.fields:
                spec = fields.get(name.split(".", 1)[0])
                reason = bulk_unreadable_reason(spec) if spec is not None else None
                if reason is not None:
                    raise QueryValidationError(
                        f"{self.module} field {name} cannot be exported by bulk read ({reason}); "
                        "leave it out of the fields",
                        code="FIELD_NOT_SUPPORTED",
                        details={"api_name": name},
                    )
            unknown = [
                f
                for f in self.fields
                if not f.startswith("$") and f != "id" and f.split(".", 1)[0] not in fields
            ]
            if unknown:
                raise QueryValidationError(
                    f"fields not in {self.module}: {unknown}",
                    code="FIELD_NOT_AVAILABLE",
                    details={"api_names": unknown},
                )

    def to_body(self, product: Product, callback_url: str | None = None) -> dict[str, Any]:
        """The JSON body of ``POST .../bulk/{ver}/read``."""
        query: dict[str, Any]
        if self.page_token is not None:
            # The documented next-page request carries only the token.
            query = {"page_token": self.page_token}
        else:
            query = {"module": product.module_ref(self.module), "page": self.page}
            if self.fields:
                query["fields"] = list(self.fields)
            if self.cvid:
                query["cvid"] = self.cvid
            if self.criteria is not None:
                query["criteria"] = criteria_to_json(
                    self.criteria, field_as_object=product.criteria_field_as_object
                )
        body: dict[str, Any] = {"query": query}
        if self.file_type != "csv":
            body["file_type"] = self.file_type
        if callback_url:
            body["callback"] = {"url": callback_url, "method": "post"}
        return body

    def to_state(self) -> dict[str, Any]:
        """A JSON-able form for a job ledger; ``from_state`` reads it back."""
        return {
            "module": self.module,
            "fields": list(self.fields),
            "criteria": criteria_to_json(self.criteria) if self.criteria is not None else None,
            "cvid": self.cvid,
            "page": self.page,
            "page_token": self.page_token,
            "file_type": self.file_type,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BulkReadQuery:
        criteria = state.get("criteria")
        return cls(
            module=str(state["module"]),
            fields=tuple(state.get("fields") or ()),
            criteria=criteria_from_json(criteria) if criteria else None,
            cvid=state.get("cvid"),
            page=int(state.get("page") or 1),
            page_token=state.get("page_token"),
            file_type=str(state.get("file_type") or "csv"),
        )


def check_field_names(module: str, names: Iterable[str]) -> None:
    """Raise ``QueryValidationError`` naming the module and the first name that is not a
    Zoho API name (nothing is sent: such a field could not become a warehouse column)."""
    malformed = [n for n in names if not is_field_reference(n)]
    if malformed:
        raise QueryValidationError(
            f"{module}: field {malformed[0]!r} is not a Zoho API name (a letter, then "
            "letters, digits or underscores); no job was created",
            code="INVALID_FIELD_NAME",
            details={"module": module, "api_names": malformed},
            hint="rename the field in Zoho or leave it out of the export",
        )


def criteria_from_json(raw: Mapping[str, Any]) -> Criterion:
    """Inverse of ``criteria_to_json`` (either field form)."""
    if "group" in raw:
        items = tuple(criteria_from_json(i) for i in raw["group"])
        return Group(str(raw.get("group_operator", "and")), items)
    field_ref = raw.get("field")
    name = field_ref.get("api_name") if isinstance(field_ref, Mapping) else raw.get("api_name")
    value = raw.get("value")
    return Condition(str(name), str(raw["comparator"]), value)
