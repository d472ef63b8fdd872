"""Bulk read criteria: validation (Zoho's error codes) and evaluation on pyarrow chunks.

``parse_criteria`` turns the request JSON into a tree of ``Condition`` and ``Group`` (raising
``InvalidQueryError`` with the documented codes); ``Condition``/``Group.mask(table)`` evaluate
it on a chunk of string columns. Negative comparators (``not_equal``, ``not_in``,
``not_contains``, ``not_between``) are exact complements of the positive ones, so empty values
match them. Text comparisons ignore case (UNCERTAIN in Zoho's docs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simulator.errors import InvalidQueryError
from simulator.schema import FieldDef, ModuleSchema

EMPTY = "${EMPTY}"
COMPARATORS = (
    "equal", "not_equal", "in", "not_in", "less_than", "less_equal", "greater_than",
    "greater_equal", "contains", "not_contains", "starts_with", "ends_with", "between",
    "not_between",
)  # fmt: skip
_BASIC = ("equal", "not_equal", "in", "not_in")
_ORDER = ("less_than", "less_equal", "greater_than", "greater_equal")
_TEXT = ("contains", "not_contains", "starts_with", "ends_with")
_RANGE = ("between", "not_between")
ALLOWED: dict[str, tuple[str, ...]] = {
    "number": _BASIC + _ORDER,
    "text": _BASIC + _TEXT,
    "date": _BASIC + _RANGE + _ORDER,
    "datetime": _BASIC + _RANGE + _ORDER,
    "boolean": ("equal",),
    "lookup": _BASIC,
}
_LIST_COMPARATORS = ("in", "not_in", "between", "not_between")
_NEGATIVE = {"not_equal": "equal", "not_in": "in", "not_contains": "contains"}
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def value_class(data_type: str) -> str:
    if data_type in ("integer", "bigint", "double", "currency", "percent"):
        return "number"
    if data_type in ("date", "datetime", "boolean"):
        return data_type
    if data_type in ("lookup", "ownerlookup"):
        return "lookup"
    return "text"


@dataclass(frozen=True)
class Condition:
    field: str
    comparator: str
    value: Any
    kind: str  # value_class of the compared field
    multi_select: bool = False
    big_integer: bool = False  # 19-digit ids: compared as int64, not float64

    def _like(self, comparator: str, value: Any) -> Condition:
        return Condition(
            self.field, comparator, value, self.kind, self.multi_select, self.big_integer
        )

    def count(self) -> int:
        return 1

    def fields(self) -> set[str]:
        return {self.field}

    def mask(self, table: pa.Table) -> pa.Array:
        column = table[self.field].combine_chunks()
        if self.comparator in _NEGATIVE:
            return pc.invert(self._like(_NEGATIVE[self.comparator], self.value).mask(table))
        if self.comparator == "not_between":
            return pc.invert(self._like("between", self.value).mask(table))
        return pc.fill_null(self._positive(column), False)

    def _positive(self, column: pa.Array) -> pa.Array:
        op, value = self.comparator, self.value
        if op == "equal" and value == EMPTY:
            return pc.is_null(column)
        if op == "in":
            masks = [self._like("equal", v)._positive(column) for v in value]
            result = masks[0]
            for m in masks[1:]:
                result = pc.or_kleene(result, m)
            return result
        if self.kind == "text":
            return self._text(column, op, str(value))
        typed = self._typed(column)
        if op == "between":
            low, high = (self._scalar(v) for v in value)
            return pc.and_kleene(pc.greater_equal(typed, low), pc.less_equal(typed, high))
        compare: dict[str, Callable[..., pa.Array]] = {
            "equal": pc.equal,
            "less_than": pc.less,
            "less_equal": pc.less_equal,
            "greater_than": pc.greater,
            "greater_equal": pc.greater_equal,
        }
        return compare[op](typed, self._scalar(value))

    def _text(self, column: pa.Array, op: str, value: str) -> pa.Array:
        if self.multi_select and op == "equal":
            pattern = f"(^|;){re.escape(value)}(;|$)"
            return pc.match_substring_regex(column, pattern, ignore_case=True)
        if op == "equal":
            return pc.equal(pc.utf8_lower(column), value.lower())
        if op == "contains":
            return pc.match_substring(column, value, ignore_case=True)
        if op == "starts_with":
            return pc.starts_with(column, value, ignore_case=True)
        return pc.ends_with(column, value, ignore_case=True)

    def _typed(self, column: pa.Array) -> pa.Array:
        if self.kind == "number":
            return pc.cast(column, pa.int64() if self.big_integer else pa.float64())
        if self.kind == "datetime":
            return pc.strptime(column, format="%Y-%m-%dT%H:%M:%S%z", unit="s")
        return column  # date (ISO text orders correctly), boolean, lookup ids

    def _scalar(self, value: Any) -> pa.Scalar:
        if self.kind == "number":
            return pa.scalar(int(value)) if self.big_integer else pa.scalar(float(value))
        if self.kind == "datetime":
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return pa.scalar(int(moment.timestamp()), pa.timestamp("s", tz="UTC"))
        if self.kind == "boolean":
            return pa.scalar(str(value).lower())
        return pa.scalar(str(value))


@dataclass(frozen=True)
class Group:
    operator: str  # "and" | "or"
    items: tuple[Condition | Group, ...]

    def count(self) -> int:
        return sum(item.count() for item in self.items)

    def fields(self) -> set[str]:
        return set().union(*(item.fields() for item in self.items))

    def mask(self, table: pa.Table) -> pa.Array:
        combine = pc.and_ if self.operator == "and" else pc.or_
        result = self.items[0].mask(table)
        for item in self.items[1:]:
            result = combine(result, item.mask(table))
        return result


SchemaLookup = Callable[[str], ModuleSchema | None]


def parse_criteria(
    raw: Any, schema: ModuleSchema, parent_schema: SchemaLookup, max_criteria: int = 25
) -> Condition | Group:
    """Validate a criteria JSON object against the module's fields."""
    node = _parse(raw, schema, parent_schema)
    if node.count() > max_criteria:
        raise InvalidQueryError(
            "CRITERIA_LIMIT_EXCEEDED",
            f"the number of criteria exceeds the limit of {max_criteria}",
            {"max_limit": max_criteria},
        )
    return node


def _parse(raw: Any, schema: ModuleSchema, parent_schema: SchemaLookup) -> Condition | Group:
    if not isinstance(raw, dict):
        raise InvalidQueryError("INVALID_CRITERIA", "invalid criteria", {"api_name": "criteria"})
    has_group = "group" in raw
    has_field = "field" in raw or "api_name" in raw
    if has_group and has_field:
        raise InvalidQueryError("AMBIGUOUS_CRITERIA", "criteria has both a group and a field")
    if has_group:
        return _parse_group(raw, schema, parent_schema)
    if not has_field or "comparator" not in raw:
        raise InvalidQueryError(
            "INVALID_CRITERIA", "criteria needs field, comparator and value or a group"
        )
    return _parse_condition(raw, schema, parent_schema)


def _parse_group(raw: dict[str, Any], schema: ModuleSchema, lookup: SchemaLookup) -> Group:
    items = raw["group"]
    if not isinstance(items, list) or not items:
        raise InvalidQueryError("INVALID_CRITERIA", "group must be a non-empty array")
    operator = raw.get("group_operator")
    if operator is None:
        if len(items) > 1:
            raise InvalidQueryError(
                "AMBIGUOUS_GROUP_IN_CRITERIA", "group_operator is missing for the group"
            )
        operator = "and"
    if not isinstance(operator, str) or operator.lower() not in ("and", "or"):
        raise InvalidQueryError(
            "GROUP_OPERATOR_NOT_SUPPORTED",
            "group_operator must be and or or",
            {"group_operator": operator},
        )
    return Group(operator.lower(), tuple(_parse(item, schema, lookup) for item in items))


def _criterion_field(raw: dict[str, Any]) -> str:
    field = raw.get("field")
    name = field.get("api_name") if isinstance(field, dict) else raw.get("api_name")
    if not isinstance(name, str) or not name:
        raise InvalidQueryError("INVALID_CRITERIA", "criteria field needs an api_name")
    return name


def resolve_field(name: str, schema: ModuleSchema, parent_schema: SchemaLookup) -> FieldDef | None:
    """The field a (possibly dotted) name reads; ``id`` is a bigint."""
    if name == "id":
        return FieldDef("id", "bigint")
    head, _, tail = name.partition(".")
    spec = schema.field(head)
    if not tail:
        return spec
    if spec is None or not spec.is_lookup:
        return None
    if spec.data_type == "ownerlookup":
        known = ("id", "first_name", "last_name", "full_name", "name", "email")
        return FieldDef(name, "bigint" if tail == "id" else "text") if tail in known else None
    if tail == "id":
        return FieldDef(name, "bigint")
    parent = parent_schema(spec.lookup or "")
    target = parent.field(tail) if parent else None
    return None if target is None else FieldDef(name, target.data_type)


def _parse_condition(raw: dict[str, Any], schema: ModuleSchema, lookup: SchemaLookup) -> Condition:
    name = _criterion_field(raw)
    spec = resolve_field(name, schema, lookup)
    if spec is None:
        raise InvalidQueryError(
            "FIELD_IN_CRITERIA_NOT_AVAILABLE",
            f"the field {name} given in criteria is not available",
            {"api_name": name},
        )
    if spec.data_type == "textarea":
        raise InvalidQueryError(
            "FIELD_IN_CRITERIA_NOT_SUPPORTED",
            f"multi-line field {name} cannot be used in criteria",
            {"api_name": name},
        )
    comparator = raw["comparator"]
    if comparator not in COMPARATORS:
        raise InvalidQueryError(
            "INVALID_CRITERIA", "invalid comparator", {"comparator": comparator, "api_name": name}
        )
    kind = value_class(spec.data_type)
    if comparator not in ALLOWED[kind]:
        raise InvalidQueryError(
            "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE",
            f"the comparator {comparator} is not supported for the field {name}",
            {"comparator": comparator, "api_name": name, "supported": list(ALLOWED[kind])},
        )
    if "value" not in raw:
        raise InvalidQueryError("INVALID_CRITERIA", "criteria value is missing", {"api_name": name})
    value = raw["value"]
    if (comparator in _LIST_COMPARATORS) != isinstance(value, list):
        raise InvalidQueryError(
            "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
            f"the value given is not compatible with the comparator {comparator}",
            {"comparator": comparator, "api_name": name},
        )
    values = value if isinstance(value, list) else [value]
    if comparator in _RANGE and len(values) != 2:
        raise InvalidQueryError(
            "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
            "between needs exactly two values",
            {"comparator": comparator, "api_name": name},
        )
    if not values:
        raise InvalidQueryError(
            "VALUE_IN_CRITERIA_NOT_SUPPORTED", "empty value list", {"api_name": name}
        )
    for v in values:
        if not _value_fits(kind, spec.data_type, v, comparator):
            raise InvalidQueryError(
                "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
                f"the value given is not compatible with the field {name}",
                {"api_name": name, "value": v},
            )
    return Condition(
        name,
        comparator,
        value,
        kind,
        multi_select=spec.data_type == "multiselectpicklist",
        big_integer=spec.data_type == "bigint",
    )


def _value_fits(kind: str, data_type: str, value: Any, comparator: str) -> bool:
    if value == EMPTY:
        return comparator in ("equal", "not_equal")
    if kind == "boolean":
        return isinstance(value, bool) or str(value).lower() in ("true", "false")
    if isinstance(value, (bool, list, dict)) or value is None:
        return False
    if data_type == "bigint":
        digits = str(value).removeprefix("-")
        return digits.isdigit() and len(digits) <= 19
    if kind == "number":
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True
    if kind == "lookup":
        return str(value).isdigit() and len(str(value)) <= 19
    if kind == "date":
        return isinstance(value, str) and bool(_DATE_RE.match(value)) and _valid_date(value)
    if kind == "datetime":
        return isinstance(value, str) and bool(_DATETIME_RE.match(value)) and _valid_datetime(value)
    return isinstance(value, (str, int, float)) and len(str(value)) <= 255


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _valid_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def echo_criteria(raw: Any, field_id: Callable[[str], str | None]) -> Any:
    """The criteria as job details show it: fields as ``{"api_name", "id"}``."""
    if not isinstance(raw, dict):
        return raw
    if "group" in raw:
        return {
            "group_operator": str(raw.get("group_operator", "and")).lower(),
            "group": [echo_criteria(item, field_id) for item in raw["group"]],
        }
    name = _criterion_field(raw)
    return {
        "field": {"api_name": name, "id": field_id(name)},
        "comparator": raw.get("comparator"),
        "value": raw.get("value"),
    }
