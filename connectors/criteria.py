"""Bulk read criteria: a small builder, client-side validation, and the JSON Zoho expects.

Shape (``shared/docs/zoho-bulk-api.md`` §1.3)::

    {"field": {"api_name": "Lead_Source"}, "comparator": "in", "value": ["Web", "Ads"]}
    {"group_operator": "and", "group": [<condition or group>, ...]}

Build with ``where("Lead_Source").is_in(["Web", "Ads"]) & where("Rating").equals("Hot")``
or ``all_of(...)`` / ``any_of(...)``. ``validate_criteria`` checks the 25-condition limit
and, when field metadata is given, that each field exists, may be used in criteria (no
multi-line text) and supports the comparator for its data type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from connectors.errors import QueryValidationError
from connectors.fields import (
    DECIMAL_TYPES,
    INTEGER_TYPES,
    LOOKUP_TYPES,
    FieldSpec,
)

Comparator = Literal[
    "equal",
    "not_equal",
    "in",
    "not_in",
    "less_than",
    "less_equal",
    "greater_than",
    "greater_equal",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "between",
    "not_between",
]
COMPARATORS: frozenset[str] = frozenset(get_args(Comparator))
LIST_COMPARATORS = frozenset({"in", "not_in", "between", "not_between"})
EMPTY = "${EMPTY}"
MAX_CRITERIA = 25

_EQUALITY = frozenset({"equal", "not_equal", "in", "not_in"})
_ORDER = frozenset({"less_than", "less_equal", "greater_than", "greater_equal"})
_TEXT = frozenset({"contains", "not_contains", "starts_with", "ends_with"})
_RANGE = frozenset({"between", "not_between"})

#: Allowed comparators per kind of data type (§1.3 "Allowed Comparators").
ALLOWED_BY_KIND: Mapping[str, frozenset[str]] = {
    "number": _EQUALITY | _ORDER,
    "text": _EQUALITY | _TEXT,
    "date": _EQUALITY | _ORDER | _RANGE,
    "boolean": frozenset({"equal"}),
    "lookup": _EQUALITY,
}
#: Multi-line text cannot be used in criteria at all.
NOT_FILTERABLE_TYPES = frozenset({"textarea"})


def comparator_kind(data_type: str) -> str:
    """Which comparator family a Zoho ``data_type`` belongs to."""
    if data_type in INTEGER_TYPES or data_type in DECIMAL_TYPES:
        return "number"
    if data_type in {"date", "datetime"}:
        return "date"
    if data_type == "boolean":
        return "boolean"
    if data_type in LOOKUP_TYPES:
        return "lookup"
    return "text"


@dataclass(frozen=True)
class Condition:
    """One comparison of a field with a value."""

    field: str
    comparator: str
    value: Any

    def __post_init__(self) -> None:
        if not self.field:
            raise QueryValidationError("a criteria condition needs a field API name")
        if self.comparator not in COMPARATORS:
            raise QueryValidationError(
                f"unknown comparator {self.comparator!r} on field {self.field!r}; "
                f"use one of {sorted(COMPARATORS)}",
                details={"api_name": self.field, "comparator": self.comparator},
            )
        is_list = isinstance(self.value, list | tuple)
        if self.comparator in LIST_COMPARATORS and not is_list:
            raise QueryValidationError(
                f"comparator {self.comparator!r} on {self.field!r} needs a list of values",
                details={"api_name": self.field, "comparator": self.comparator},
            )
        if self.comparator in _RANGE and len(self.value) != 2:
            raise QueryValidationError(
                f"comparator {self.comparator!r} on {self.field!r} needs exactly 2 values",
                details={"api_name": self.field, "comparator": self.comparator},
            )
        if is_list and self.comparator not in LIST_COMPARATORS:
            raise QueryValidationError(
                f"comparator {self.comparator!r} on {self.field!r} takes one value, not a list",
                details={"api_name": self.field, "comparator": self.comparator},
            )
        if is_list:
            object.__setattr__(self, "value", tuple(self.value))

    def __and__(self, other: Criterion) -> Group:
        return all_of(self, other)

    def __or__(self, other: Criterion) -> Group:
        return any_of(self, other)


@dataclass(frozen=True)
class Group:
    """Conditions or groups joined by ``and`` / ``or``."""

    operator: str
    items: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        op = self.operator.lower()
        if op not in {"and", "or"}:
            raise QueryValidationError(f"group operator must be 'and' or 'or', got {op!r}")
        object.__setattr__(self, "operator", op)
        if len(self.items) < 2:
            raise QueryValidationError("a criteria group needs at least two members")

    def __and__(self, other: Criterion) -> Group:
        return all_of(self, other)

    def __or__(self, other: Criterion) -> Group:
        return any_of(self, other)


Criterion = Condition | Group


def all_of(*items: Criterion) -> Group:
    """``and`` of the items; nested ``and`` groups are flattened."""
    return Group("and", _flatten("and", items))


def any_of(*items: Criterion) -> Group:
    """``or`` of the items; nested ``or`` groups are flattened."""
    return Group("or", _flatten("or", items))


def _flatten(op: str, items: Sequence[Criterion]) -> tuple[Criterion, ...]:
    out: list[Criterion] = []
    for item in items:
        if isinstance(item, Group) and item.operator == op:
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class FieldRef:
    """``where("Field")``: start a condition on a field."""

    name: str

    def equals(self, value: Any) -> Condition:
        return Condition(self.name, "equal", value)

    def not_equals(self, value: Any) -> Condition:
        return Condition(self.name, "not_equal", value)

    def is_in(self, values: Sequence[Any]) -> Condition:
        return Condition(self.name, "in", tuple(values))

    def not_in(self, values: Sequence[Any]) -> Condition:
        return Condition(self.name, "not_in", tuple(values))

    def less_than(self, value: Any) -> Condition:
        return Condition(self.name, "less_than", value)

    def less_equal(self, value: Any) -> Condition:
        return Condition(self.name, "less_equal", value)

    def greater_than(self, value: Any) -> Condition:
        return Condition(self.name, "greater_than", value)

    def greater_equal(self, value: Any) -> Condition:
        return Condition(self.name, "greater_equal", value)

    def contains(self, value: str) -> Condition:
        return Condition(self.name, "contains", value)

    def not_contains(self, value: str) -> Condition:
        return Condition(self.name, "not_contains", value)

    def starts_with(self, value: str) -> Condition:
        return Condition(self.name, "starts_with", value)

    def ends_with(self, value: str) -> Condition:
        return Condition(self.name, "ends_with", value)

    def between(self, low: Any, high: Any) -> Condition:
        return Condition(self.name, "between", (low, high))

    def not_between(self, low: Any, high: Any) -> Condition:
        return Condition(self.name, "not_between", (low, high))

    def is_empty(self) -> Condition:
        return Condition(self.name, "equal", EMPTY)


def where(field: str) -> FieldRef:
    return FieldRef(field)


def iter_conditions(criterion: Criterion) -> Iterator[Condition]:
    if isinstance(criterion, Condition):
        yield criterion
    else:
        for item in criterion.items:
            yield from iter_conditions(item)


def validate_criteria(
    criterion: Criterion,
    fields: Mapping[str, FieldSpec] | None = None,
    *,
    max_criteria: int = MAX_CRITERIA,
) -> None:
    """Raise ``QueryValidationError`` for anything Zoho would reject (checked client-side)."""
    conditions = list(iter_conditions(criterion))
    if len(conditions) > max_criteria:
        raise QueryValidationError(
            f"{len(conditions)} criteria conditions; Zoho allows at most {max_criteria}",
            code="CRITERIA_LIMIT_EXCEEDED",
            details={"max_limit": max_criteria},
        )
    if fields is None:
        return
    for cond in conditions:
        _validate_against_metadata(cond, fields)


def _validate_against_metadata(cond: Condition, fields: Mapping[str, FieldSpec]) -> None:
    if cond.field.startswith("$"):
        return  # pseudo-fields such as $converted have no metadata
    base, _, parent_field = cond.field.partition(".")
    spec = fields.get(base)
    if spec is None:
        raise QueryValidationError(
            f"criteria field {base!r} is not a field of this module",
            code="FIELD_IN_CRITERIA_NOT_AVAILABLE",
            details={"api_name": base},
        )
    if parent_field:
        if not spec.is_lookup:
            raise QueryValidationError(
                f"{cond.field!r}: the dot form needs a lookup field, {base!r} is {spec.data_type}",
                code="FIELD_IN_CRITERIA_NOT_SUPPORTED",
                details={"api_name": cond.field},
            )
        return  # the parent field's type is not known without the parent's metadata
    if spec.data_type in NOT_FILTERABLE_TYPES:
        raise QueryValidationError(
            f"field {base!r} ({spec.data_type}) cannot be used in bulk read criteria",
            code="FIELD_IN_CRITERIA_NOT_SUPPORTED",
            details={"api_name": base},
        )
    kind = comparator_kind(spec.data_type)
    allowed = ALLOWED_BY_KIND[kind]
    if cond.comparator not in allowed:
        raise QueryValidationError(
            f"comparator {cond.comparator!r} is not allowed on {base!r} ({spec.data_type}); "
            f"allowed: {', '.join(sorted(allowed))}",
            code="FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE",
            details={"api_name": base, "comparator": cond.comparator, "supported": sorted(allowed)},
        )


def criteria_to_json(criterion: Criterion, *, field_as_object: bool = True) -> dict[str, Any]:
    """The ``query.criteria`` JSON (CRM v8 ``field`` objects, or v2-style ``api_name``)."""
    if isinstance(criterion, Group):
        return {
            "group_operator": criterion.operator,
            "group": [
                criteria_to_json(item, field_as_object=field_as_object) for item in criterion.items
            ],
        }
    value = list(criterion.value) if isinstance(criterion.value, tuple) else criterion.value
    out: dict[str, Any] = {"comparator": criterion.comparator, "value": value}
    if field_as_object:
        out["field"] = {"api_name": criterion.field}
    else:
        out["api_name"] = criterion.field
    return out
