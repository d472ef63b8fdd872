"""Row-level pre-flight checks: each rendered column checked cell by cell the way Zoho will.

`check_column` flags, without a loop over rows, the cells Zoho would reject: mandatory cells
empty (``MANDATORY_NOT_FOUND``), unknown picklist values, numbers that are not numbers or have
too many digits / decimal places, booleans, dates not in the declared format, e-mail
addresses, lookup ids that are not ids (``INVALID_DATA``), text over the field's length
(``LIMIT_EXCEEDED``); `check_duplicates` flags repeated ``find_by`` keys (``DUPLICATE_DATA``).
`RowChecks` collects the issues into an Arrow table (``ISSUE_SCHEMA``). Batch-level checks and
the `Preflight` result live in `transforms.writeback.validate`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.fields import DECIMAL_TYPES, INTEGER_TYPES, FieldSpec
from transforms.writeback.dates import parse_pattern
from transforms.writeback.mapping import FieldMapping, WriteMapping
from transforms.writeback.render import DATE_TYPES, DATETIME_TYPES, as_text, effective_format

InvalidRowPolicy = Literal["stop", "send_valid"]


PicklistPolicy = Literal["reject", "allow"]


ISSUE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("key", pa.string()),
        ("api_name", pa.string()),
        ("code", pa.string()),
        ("message", pa.string()),
        #: the input column and its cell as text (filled by ``validate.preflight``)
        ("column", pa.string()),
        ("value", pa.string()),
    ]
)


#: Lengths Zoho applies when the metadata gives none (docs/zoho-bulk-api.md §2.3).
DEFAULT_LENGTHS = {"text": 255, "email": 100, "phone": 30, "website": 255, "textarea": 32000}


INTEGER_DIGITS = {"integer": 9, "bigint": 18}


CURRENCY_INTEGER_DIGITS = 16


_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


_ID_RE = r"^[0-9]{1,19}$"


@dataclass(frozen=True)
class PreflightPolicy:
    """What to do with invalid rows and with picklist values Zoho does not list yet.

    Zoho adds an unknown picklist value to the picklist instead of failing the row
    (docs §2.3); the default here rejects it, since that is almost always a typo.
    """

    on_invalid: InvalidRowPolicy = "send_valid"
    unknown_picklist: PicklistPolicy = "reject"


class RowChecks:
    """Collects row issues as (mask, field, code, message) without a loop over rows."""

    def __init__(self, n: int, keys: pa.Array) -> None:
        self.n = n
        self.keys = keys
        self.bad = np.zeros(n, dtype=bool)
        self._parts: list[pa.Table] = []
        self._lock = threading.Lock()

    def flag(
        self,
        mask: pa.Array | pa.ChunkedArray | np.ndarray,
        api_name: str,
        code: str,
        message: str | _Quoted,
    ) -> None:
        if isinstance(mask, np.ndarray):
            rows = np.flatnonzero(mask)
        else:
            rows = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
        if len(rows) == 0:
            return
        with self._lock:
            self.bad[rows] = True
        idx = pa.array(rows, pa.int64())
        messages = (
            message.at(idx) if isinstance(message, _Quoted) else pa.repeat(message, len(rows))
        )
        part = pa.table(
            {
                "row": idx,
                "key": self.keys.take(idx),
                "api_name": pa.repeat(api_name, len(rows)),
                "code": pa.repeat(code, len(rows)),
                "message": messages.cast(pa.string()),
                "column": pa.nulls(len(rows), pa.string()),
                "value": pa.nulls(len(rows), pa.string()),
            },
            schema=ISSUE_SCHEMA,
        )
        with self._lock:
            self._parts.append(part)

    def table(self) -> pa.Table:
        if not self._parts:
            return ISSUE_SCHEMA.empty_table()
        merged = pa.concat_tables(self._parts)
        return merged.sort_by([("row", "ascending"), ("api_name", "ascending")])


def check_column(
    checks: RowChecks,
    text: pa.Array,
    fm: FieldMapping,
    spec: FieldSpec | None,
    mapping: WriteMapping,
    policy: PreflightPolicy,
    source: pa.Array | None = None,
) -> None:
    """Check one rendered column; typed sources skip checks their rendering guarantees."""
    name = fm.api_name
    empty = pc.is_null(text)
    needs_value = name == mapping.find_by or (
        spec is not None and spec.mandatory and mapping.operation in ("insert", "upsert")
    )
    if needs_value and fm.default_value is None:
        what = "find_by key" if name == mapping.find_by else "mandatory field"
        checks.flag(empty, name, "MANDATORY_NOT_FOUND", f"{what} {name} is empty")
    if spec is None:
        if name == "id":
            _flag_regex(checks, text, name, _ID_RE, "record id must be up to 19 digits")
        return
    kind = spec.data_type
    if source is not None and not fm.values and _typed_check(checks, text, spec, source, policy):
        return
    if spec.is_lookup:
        if fm.lookup is None or fm.lookup.by_id:
            _flag_regex(checks, text, name, _ID_RE, "lookup by id needs a numeric record id")
        return
    if kind == "picklist" and spec.picklist_values and policy.unknown_picklist == "reject":
        unknown = pc.invert(pc.is_in(text, value_set=pa.array(spec.picklist_values)))
        checks.flag(
            pc.and_(unknown, pc.is_valid(text)),
            name,
            "INVALID_DATA",
            _quoted(text, "is not a value of the picklist"),
        )
    elif kind == "multiselectpicklist" and spec.picklist_values:
        if policy.unknown_picklist == "reject":
            _check_multiselect(checks, text, name, spec)
    elif kind in INTEGER_TYPES:
        digits = spec.length or INTEGER_DIGITS[kind]
        _flag_regex(
            checks,
            text,
            name,
            rf"^[+-]?[0-9]{{1,{digits}}}$",
            f"is not a whole number of at most {digits} digits",
        )
    elif kind in DECIMAL_TYPES:
        _check_decimal(checks, text, name, spec)
    elif kind == "boolean":
        ok = pc.is_in(pc.utf8_lower(text), value_set=pa.array(["true", "false"]))
        checks.flag(
            pc.and_(pc.invert(ok), pc.is_valid(text)),
            name,
            "INVALID_DATA",
            _quoted(text, "is not true or false"),
        )
    elif kind in DATE_TYPES | DATETIME_TYPES:
        _check_date(checks, text, fm, spec)
    elif kind == "email":
        _flag_regex(checks, text, name, _EMAIL_RE, "is not an e-mail address")
    limit = spec.length or DEFAULT_LENGTHS.get(kind)
    if limit and kind not in INTEGER_TYPES | DECIMAL_TYPES:
        too_long = _longer_than(text, limit)
        checks.flag(too_long, name, "LIMIT_EXCEEDED", f"longer than {limit} characters")


def _typed_check(
    checks: RowChecks, text: pa.Array, spec: FieldSpec, source: pa.Array, policy: PreflightPolicy
) -> bool:
    """Vectorised checks on the typed source; True when they replace the text checks."""
    kind, name, typ = spec.data_type, spec.api_name, source.type
    if kind == "boolean" and pa.types.is_boolean(typ):
        return True
    if kind in DATE_TYPES | DATETIME_TYPES and (
        pa.types.is_date(typ) or pa.types.is_timestamp(typ)
    ):
        return True  # rendered by us with the declared format
    if kind in INTEGER_TYPES and pa.types.is_integer(typ):
        digits = spec.length or INTEGER_DIGITS[kind]
        too_big = pc.greater_equal(pc.abs(source.cast(pa.float64())), 10.0**digits)
        checks.flag(too_big, name, "INVALID_DATA", _quoted(text, f"has more than {digits} digits"))
        return True
    if kind in DECIMAL_TYPES and pa.types.is_floating(typ):
        whole = CURRENCY_INTEGER_DIGITS if kind == "currency" else spec.length or 16
        ok = pc.and_(pc.is_finite(source), pc.less(pc.abs(source), 10.0**whole))
        checks.flag(
            pc.invert(ok), name, "INVALID_DATA",
            _quoted(text, f"is not a finite number below 10^{whole}"),
        )  # fmt: skip
        return True
    if kind == "multiselectpicklist" and (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        if spec.picklist_values and policy.unknown_picklist == "reject":
            flat = pc.list_flatten(source).cast(pa.string())
            unknown = pc.invert(pc.is_in(flat, value_set=pa.array(spec.picklist_values)))
            bad = np.zeros(len(text), dtype=bool)
            bad[pc.list_parent_indices(source).filter(unknown).to_numpy()] = True
            why = "holds a value not in the picklist"
            checks.flag(bad, name, "INVALID_DATA", _quoted(text, why))
        limit = spec.length or DEFAULT_LENGTHS.get(kind)
        if limit:
            too_long = _longer_than(text, limit)
            checks.flag(too_long, name, "LIMIT_EXCEEDED", f"longer than {limit} characters")
        return True
    return False


def _longer_than(text: pa.Array, limit: int) -> pa.Array | np.ndarray:
    """Characters over ``limit``; bytes are counted first (cheap, and never fewer)."""
    if not pc.any(pc.greater(pc.binary_length(text), limit)).as_py():
        return np.zeros(len(text), dtype=bool)
    return pc.greater(pc.utf8_length(text), limit)


def _flag_regex(checks: RowChecks, text: pa.Array, name: str, pattern: str, why: str) -> None:
    ok = pc.match_substring_regex(text, pattern)
    bad = pc.and_(pc.invert(ok), pc.is_valid(text))
    checks.flag(bad, name, "INVALID_DATA", _quoted(text, why))


def _check_multiselect(checks: RowChecks, text: pa.Array, name: str, spec: FieldSpec) -> None:
    parts = pc.split_pattern(text, ";")
    flat = pc.list_flatten(parts)
    parents = pc.list_parent_indices(parts)
    unknown = pc.invert(pc.is_in(flat, value_set=pa.array(spec.picklist_values)))
    bad = np.zeros(len(text), dtype=bool)
    bad[parents.filter(unknown).to_numpy()] = True
    checks.flag(bad, name, "INVALID_DATA", _quoted(text, "holds a value not in the picklist"))


def _check_decimal(checks: RowChecks, text: pa.Array, name: str, spec: FieldSpec) -> None:
    places = spec.decimal_place
    whole = CURRENCY_INTEGER_DIGITS if spec.data_type == "currency" else spec.length or 16
    fraction = rf"(\.[0-9]{{0,{places}}})?" if places is not None else r"(\.[0-9]*)?"
    why = f"is not a number with at most {whole} digits"
    if places is not None:
        why += f" and {places} decimal places"
    _flag_regex(checks, text, name, rf"^[+-]?[0-9]{{1,{whole}}}{fraction}$", why)


def _check_date(checks: RowChecks, text: pa.Array, fm: FieldMapping, spec: FieldSpec) -> None:
    fmt = effective_format(fm, spec)
    assert fmt is not None
    pattern = parse_pattern(fmt)
    candidate = text
    if pattern.colon_offset:
        candidate = pc.replace_substring_regex(text, r"([+-]\d\d):(\d\d)$", r"\1\2")
    parsed = pc.strptime(candidate, format=pattern.strftime, unit="s", error_is_null=True)
    bad = pc.and_(pc.is_null(parsed), pc.is_valid(text))
    if "%z" not in pattern.strftime and "%p" not in pattern.strftime:
        # Arrow's parser rolls 2020-02-30 over to March; a round trip catches that.
        again = pc.strftime(pc.fill_null(parsed, 0), format=pattern.strftime)
        rolled = pc.and_(pc.is_valid(parsed), pc.not_equal(again, candidate))
        bad = pc.or_(bad, rolled)
    checks.flag(bad, fm.api_name, "INVALID_DATA", _quoted(text, f"does not match format {fmt}"))


def check_duplicates(
    checks: RowChecks,
    text: pa.Array,
    name: str,
    spec: FieldSpec | None,
    *,
    first_by: np.ndarray | None = None,
) -> None:
    """Flag every row repeating an earlier row's value; earlier: lower ``first_by`` (the
    rows' input positions), else position here."""
    values = text
    if spec is not None and spec.data_type == "email":
        values = pc.utf8_lower(text)
    encoded = pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False)
    present = pc.is_valid(values).to_numpy(zero_copy_only=False)
    codes = np.where(present, encoded, -1)
    rank = np.arange(len(codes)) if first_by is None else np.asarray(first_by)
    order = np.lexsort((rank, codes))
    sorted_codes = codes[order]
    repeat = np.zeros(len(codes), dtype=bool)
    repeat[order[1:]] = (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_codes[1:] >= 0)
    if repeat.any():
        checks.flag(
            repeat, name, "DUPLICATE_DATA", _quoted(text, f"repeats a {name} already in this batch")
        )


@dataclass(frozen=True)
class _Quoted:
    """``'value' why``, built only for the rows that are flagged."""

    text: pa.Array
    why: str

    def at(self, idx: pa.Array) -> pa.Array:
        short = pc.utf8_slice_codeunits(pc.fill_null(as_text(self.text.take(idx)), ""), 0, 60)
        return pc.binary_join_element_wise("'", short, "' " + self.why, "")


def _quoted(text: pa.Array, why: str) -> _Quoted:
    return _Quoted(text, why)


def describe_issue(row: Mapping[str, Any]) -> str:
    """One issue as text: ``row 3 INVALID_DATA-Email: 'x' is not an e-mail address``."""
    return f"row {row['row']} {row['code']}-{row['api_name']}: {row['message']}"
