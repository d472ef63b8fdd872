"""Pre-flight validation of a write against field metadata: zero write credits spent.

`preflight(table, mapping, fields)` renders every mapped column (see ``render``) and
checks the rendered text the way Zoho will:

- batch level (raise `PreflightError`): source columns missing, unknown or read-only
  target fields, mandatory fields not mapped on insert / upsert, more than 200 columns,
  date formats on non-date fields, lookups declared on non-lookup fields;
- row level (reported, the row is not sent): mandatory cells empty
  (``MANDATORY_NOT_FOUND``), unknown picklist values, text too long, numbers that are not
  numbers or have too many digits / decimal places, booleans, dates not in the declared
  format, e-mail addresses, lookup ids that are not ids (``INVALID_DATA``), text over the
  field's length (``LIMIT_EXCEEDED``, as Zoho reports it), and repeated
  ``find_by`` keys inside the batch (``DUPLICATE_DATA``; the first occurrence is kept).

The result, `Preflight`, holds the rendered columns, the valid-row mask and an Arrow
table of issues (row, key, api_name, code, message). `enforce_policy` applies the
"stop" or "send_valid" policy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.fields import DECIMAL_TYPES, INTEGER_TYPES, FieldSpec
from transforms.writeback.dates import parse_pattern
from transforms.writeback.errors import InvalidRowsError, PreflightError
from transforms.writeback.mapping import MAX_MAPPED_COLUMNS, FieldMapping, WriteMapping
from transforms.writeback.render import (
    DATE_TYPES,
    DATETIME_TYPES,
    as_text,
    csv_column,
    effective_format,
)

InvalidRowPolicy = Literal["stop", "send_valid"]
PicklistPolicy = Literal["reject", "allow"]

ISSUE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("key", pa.string()),
        ("api_name", pa.string()),
        ("code", pa.string()),
        ("message", pa.string()),
    ]
)

#: Lengths Zoho applies when the metadata gives none (docs/zoho-bulk-api.md §2.3).
DEFAULT_LENGTHS = {"text": 255, "email": 100, "phone": 30, "website": 255, "textarea": 32000}
INTEGER_DIGITS = {"integer": 9, "bigint": 18}
CURRENCY_INTEGER_DIGITS = 16
_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_ID_RE = r"^[0-9]{1,19}$"
_UNCHECKED_READ_ONLY = frozenset({"id"})
_PARALLEL_MIN_ROWS = 20_000


@dataclass(frozen=True)
class PreflightPolicy:
    """What to do with invalid rows and with picklist values Zoho does not list yet.

    Zoho adds an unknown picklist value to the picklist instead of failing the row
    (docs §2.3); the default here rejects it, since that is almost always a typo.
    """

    on_invalid: InvalidRowPolicy = "send_valid"
    unknown_picklist: PicklistPolicy = "reject"


@dataclass(frozen=True)
class Preflight:
    """CSV-ready columns for every input row, which rows are valid, and why not.

    ``rendered`` holds text columns, or typed ones where Arrow's CSV form is Zoho's
    (see ``render.csv_column``); ``rendered_text()`` gives all of them as text.
    """

    mapping: WriteMapping
    rendered: pa.Table
    keys: pa.Array
    valid: np.ndarray
    issues: pa.Table
    field_mappings: tuple[dict[str, Any], ...]

    def rendered_text(self) -> pa.Table:
        """Every column as the text written to the CSV."""
        return pa.table({n: as_text(c.combine_chunks()) for n, c in zip(
            self.rendered.column_names, self.rendered.columns, strict=True)})  # fmt: skip

    @property
    def total_rows(self) -> int:
        return self.rendered.num_rows

    @property
    def valid_rows(self) -> np.ndarray:
        return np.flatnonzero(self.valid)

    @property
    def rejected_rows(self) -> np.ndarray:
        return np.flatnonzero(~self.valid)

    def summary(self) -> dict[str, Any]:
        """Counts a dry run reports: rows, valid, rejected, issues per code and field."""
        by_code: dict[str, int] = {}
        for code, field in zip(
            self.issues.column("code").to_pylist(),
            self.issues.column("api_name").to_pylist(),
            strict=True,
        ):
            label = f"{code}-{field}"
            by_code[label] = by_code.get(label, 0) + 1
        return {
            "module": self.mapping.module,
            "operation": self.mapping.operation,
            "rows": self.total_rows,
            "valid": int(self.valid.sum()),
            "rejected": int((~self.valid).sum()),
            "issues": dict(sorted(by_code.items())),
            "write_credits": 0,
        }


def _combined(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    return array


def fields_by_name(fields: Iterable[FieldSpec]) -> dict[str, FieldSpec]:
    return {f.api_name: f for f in fields}


def preflight(
    table: pa.Table,
    mapping: WriteMapping,
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    policy: PreflightPolicy | None = None,
    *,
    workers: int = 2,
) -> Preflight:
    """Render and validate ``table`` for ``mapping``; raise `PreflightError` for batch faults."""
    policy = policy or PreflightPolicy()
    specs = dict(fields) if isinstance(fields, Mapping) else fields_by_name(fields)
    _check_batch(table, mapping, specs)
    n = table.num_rows
    keys = _input_keys(table, mapping)
    checks = _RowChecks(n, keys)
    sourced = [fm for fm in mapping.fields if fm.source is not None]

    def one(fm: FieldMapping) -> pa.Array:
        assert fm.source is not None
        spec = specs.get(fm.api_name)
        source = _combined(table.column(fm.source))
        text = csv_column(source, fm, spec)
        _check_column(checks, text, fm, spec, mapping, policy, source)
        return text

    # Columns are independent and pyarrow releases the GIL: two threads nearly halve it.
    # The costly columns go first so the threads finish together (longest-first).
    if workers > 1 and len(sourced) > 1 and n >= _PARALLEL_MIN_ROWS:
        order = sorted(
            range(len(sourced)),
            key=lambda i: -_cost(sourced[i], specs.get(sourced[i].api_name), table),
        )
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = dict(zip(order, pool.map(one, [sourced[i] for i in order]), strict=True))
        columns = [done[i] for i in range(len(sourced))]
    else:
        columns = [one(fm) for fm in sourced]
    headers = [fm.header for fm in sourced]
    for fm in mapping.fields:
        spec = specs.get(fm.api_name)
        if fm.source is None and spec is not None:
            _check_default(fm, spec, mapping, policy)
    if mapping.find_by:
        find_field = mapping.field(mapping.find_by)
        assert find_field is not None
        idx = [f.api_name for f in mapping.fields if f.source is not None].index(mapping.find_by)
        _check_duplicates(
            checks, as_text(columns[idx]), mapping.find_by, specs.get(mapping.find_by)
        )
    rendered = pa.Table.from_arrays(columns, names=headers)
    return Preflight(
        mapping=mapping,
        rendered=rendered,
        keys=keys,
        valid=~checks.bad,
        issues=checks.table(),
        field_mappings=tuple(build_field_mappings(mapping, specs)),
    )


_REGEX_CHECKED = frozenset({"email", "lookup", "ownerlookup", "date", "datetime"})


def _cost(fm: FieldMapping, spec: FieldSpec | None, table: pa.Table) -> int:
    """Rough relative cost of rendering + checking a column (for scheduling only)."""
    assert fm.source is not None
    kind = table.schema.field(fm.source).type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return 3  # join with ";" and check every element
    if fm.values or (spec is not None and spec.data_type in _REGEX_CHECKED):
        return 2  # value map, or a regex / date parse per cell
    return 1


def enforce_policy(result: Preflight, policy: PreflightPolicy | None = None) -> None:
    """Raise `InvalidRowsError` when rows are invalid and the policy is "stop"."""
    policy = policy or PreflightPolicy()
    rejected = int((~result.valid).sum())
    if rejected and policy.on_invalid == "stop":
        first = result.issues.slice(0, 1).to_pylist()[0]
        sample = f"row {first['row']} {first['code']}-{first['api_name']}: {first['message']}"
        raise InvalidRowsError(
            result.mapping.module, rejected, result.total_rows, sample, issues=result.issues
        )


def build_field_mappings(
    mapping: WriteMapping, specs: Mapping[str, FieldSpec]
) -> list[dict[str, Any]]:
    """The ``field_mappings`` list of the create-job request (indexes follow CSV columns)."""
    out: list[dict[str, Any]] = []
    index = 0
    for fm in mapping.fields:
        entry: dict[str, Any] = {"api_name": fm.api_name}
        if fm.source is not None:
            entry["index"] = index
            index += 1
        fmt = effective_format(fm, specs.get(fm.api_name))
        if fmt is not None:
            entry["format"] = fmt
        if fm.lookup is not None:
            entry["find_by"] = fm.lookup.by
        if fm.default_value is not None:
            entry["default_value"] = {"value": fm.default_value}
        out.append(entry)
    return out


# ------------------------------------------------------------------------- batch checks


def _check_batch(table: pa.Table, mapping: WriteMapping, specs: Mapping[str, FieldSpec]) -> None:
    problems: list[str] = []
    missing = [c for c in mapping.source_columns if c not in table.column_names]
    if missing:
        problems.append(f"source columns not in the input: {', '.join(missing)}")
    columns = sum(1 for f in mapping.fields if f.source is not None)
    if columns > MAX_MAPPED_COLUMNS:
        problems.append(f"{columns} columns, Zoho accepts at most {MAX_MAPPED_COLUMNS}")
    for fm in mapping.fields:
        spec = specs.get(fm.api_name)
        if spec is None:
            if fm.api_name not in _UNCHECKED_READ_ONLY:
                problems.append(f"INVALID_FIELD {fm.api_name}: no such field in {mapping.module}")
            continue
        if spec.read_only and fm.api_name not in _UNCHECKED_READ_ONLY:
            problems.append(f"{fm.api_name} is read-only in {mapping.module}")
        if fm.format is not None and spec.data_type not in DATE_TYPES | DATETIME_TYPES:
            problems.append(f"{fm.api_name} has a format but is a {spec.data_type} field")
        if fm.format is not None:
            has_time = parse_pattern(fm.format).has_time
            if spec.data_type in DATE_TYPES and has_time:
                problems.append(f"{fm.api_name} is a date field; format {fm.format!r} has a time")
        if fm.lookup is not None and not spec.is_lookup:
            problems.append(f"{fm.api_name} has a lookup but is a {spec.data_type} field")
    if mapping.operation in ("insert", "upsert"):
        mapped = {f.api_name for f in mapping.fields}
        unmapped = sorted(n for n, s in specs.items() if s.mandatory and n not in mapped)
        if unmapped:
            problems.append(
                f"MANDATORY_FIELDS_NOT_MAPPED: {', '.join(unmapped)} (map them or give a default)"
            )
    if problems:
        raise PreflightError(mapping.module, problems)


def _check_default(
    fm: FieldMapping, spec: FieldSpec, mapping: WriteMapping, policy: PreflightPolicy
) -> None:
    assert fm.default_value is not None
    one = _RowChecks(1, pa.array([None], pa.string()))
    _check_column(one, pa.array([fm.default_value]), fm, spec, mapping, policy)
    if one.bad.any():
        message = one.table().column("message")[0].as_py()
        raise PreflightError(mapping.module, [f"default of {fm.api_name}: {message}"])


# --------------------------------------------------------------------------- row checks


class _RowChecks:
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


def _check_column(
    checks: _RowChecks,
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
    checks: _RowChecks, text: pa.Array, spec: FieldSpec, source: pa.Array, policy: PreflightPolicy
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


def _flag_regex(checks: _RowChecks, text: pa.Array, name: str, pattern: str, why: str) -> None:
    ok = pc.match_substring_regex(text, pattern)
    bad = pc.and_(pc.invert(ok), pc.is_valid(text))
    checks.flag(bad, name, "INVALID_DATA", _quoted(text, why))


def _check_multiselect(checks: _RowChecks, text: pa.Array, name: str, spec: FieldSpec) -> None:
    parts = pc.split_pattern(text, ";")
    flat = pc.list_flatten(parts)
    parents = pc.list_parent_indices(parts)
    unknown = pc.invert(pc.is_in(flat, value_set=pa.array(spec.picklist_values)))
    bad = np.zeros(len(text), dtype=bool)
    bad[parents.filter(unknown).to_numpy()] = True
    checks.flag(bad, name, "INVALID_DATA", _quoted(text, "holds a value not in the picklist"))


def _check_decimal(checks: _RowChecks, text: pa.Array, name: str, spec: FieldSpec) -> None:
    places = spec.decimal_place
    whole = CURRENCY_INTEGER_DIGITS if spec.data_type == "currency" else spec.length or 16
    fraction = rf"(\.[0-9]{{0,{places}}})?" if places is not None else r"(\.[0-9]*)?"
    why = f"is not a number with at most {whole} digits"
    if places is not None:
        why += f" and {places} decimal places"
    _flag_regex(checks, text, name, rf"^[+-]?[0-9]{{1,{whole}}}{fraction}$", why)


def _check_date(checks: _RowChecks, text: pa.Array, fm: FieldMapping, spec: FieldSpec) -> None:
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


def _check_duplicates(
    checks: _RowChecks, text: pa.Array, name: str, spec: FieldSpec | None
) -> None:
    values = text
    if spec is not None and spec.data_type == "email":
        values = pc.utf8_lower(text)
    encoded = pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False)
    present = pc.is_valid(values).to_numpy(zero_copy_only=False)
    codes = np.where(present, encoded, -1)
    order = np.argsort(codes, kind="stable")
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


def _input_keys(table: pa.Table, mapping: WriteMapping) -> pa.Array:
    column = mapping.key_column
    if column is None or column not in table.column_names:
        return pa.array(np.arange(table.num_rows, dtype=np.int64)).cast(pa.string())
    values = table.column(column).combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values.cast(pa.string())


def describe_issue(row: Mapping[str, Any]) -> str:
    """One issue as text: ``row 3 INVALID_DATA-Email: 'x' is not an e-mail address``."""
    return f"row {row['row']} {row['code']}-{row['api_name']}: {row['message']}"
