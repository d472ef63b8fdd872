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
"stop" or "send_valid" policy. The row-level checks live in
`transforms.writeback.cell_checks` (re-exported here with `PreflightPolicy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from connectors.fields import FieldSpec
from transforms.writeback.cell_checks import (
    CURRENCY_INTEGER_DIGITS,
    DEFAULT_LENGTHS,
    INTEGER_DIGITS,
    ISSUE_SCHEMA,
    InvalidRowPolicy,
    PicklistPolicy,
    PreflightPolicy,
    RowChecks,
    check_column,
    check_duplicates,
    describe_issue,
)
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

__all__ = [
    "CURRENCY_INTEGER_DIGITS",
    "DEFAULT_LENGTHS",
    "INTEGER_DIGITS",
    "ISSUE_SCHEMA",
    "InvalidRowPolicy",
    "PicklistPolicy",
    "Preflight",
    "PreflightPolicy",
    "build_field_mappings",
    "describe_issue",
    "enforce_policy",
    "fields_by_name",
    "preflight",
]

_UNCHECKED_READ_ONLY = frozenset({"id"})
_PARALLEL_MIN_ROWS = 20_000


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
    source_rows: np.ndarray | None = None,
) -> Preflight:
    """Render and validate ``table`` for ``mapping``; raise `PreflightError` for batch faults.

    ``source_rows``: each row's position in the input when ``table`` holds the rows in
    another order (`transforms.writeback.row_order`): of rows repeating a ``find_by`` value,
    the first in the input is kept."""
    policy = policy or PreflightPolicy()
    specs = dict(fields) if isinstance(fields, Mapping) else fields_by_name(fields)
    _check_batch(table, mapping, specs)
    n = table.num_rows
    keys = _input_keys(table, mapping)
    checks = RowChecks(n, keys)
    sourced = [fm for fm in mapping.fields if fm.source is not None]

    def one(fm: FieldMapping) -> pa.Array:
        assert fm.source is not None
        spec = specs.get(fm.api_name)
        source = _combined(table.column(fm.source))
        text = csv_column(source, fm, spec)
        check_column(checks, text, fm, spec, mapping, policy, source)
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
        check_duplicates(
            checks,
            as_text(columns[idx]),
            mapping.find_by,
            specs.get(mapping.find_by),
            first_by=source_rows,
        )
    rendered = pa.Table.from_arrays(columns, names=headers)
    return Preflight(
        mapping=mapping,
        rendered=rendered,
        keys=keys,
        valid=~checks.bad,
        issues=with_input_cells(checks.table(), table, mapping),
        field_mappings=tuple(build_field_mappings(mapping, specs)),
    )


def with_input_cells(issues: pa.Table, table: pa.Table, mapping: WriteMapping) -> pa.Table:
    """``issues`` with each one's input ``column`` and that row's cell there as ``value``."""
    if issues.num_rows == 0:
        return issues
    sources = {fm.api_name: fm.source for fm in mapping.fields if fm.source is not None}
    names = issues.column("api_name").to_pylist()
    rows = issues.column("row").to_numpy()
    columns: list[str | None] = [sources.get(name) for name in names]
    values: list[str | None] = [None] * len(names)
    for source in {c for c in columns if c is not None and c in table.column_names}:
        at = np.flatnonzero([c == source for c in columns])
        cells = cell_text(_combined(table.column(source)).take(pa.array(rows[at], pa.int64())))
        for position, cell in zip(at, cells, strict=True):
            values[position] = cell
    issues = issues.set_column(
        issues.schema.get_field_index("column"), "column", pa.array(columns, pa.string())
    )
    return issues.set_column(
        issues.schema.get_field_index("value"), "value", pa.array(values, pa.string())
    )


def cell_text(cells: pa.Array) -> list[str | None]:
    """Input cells as the user wrote them, as text (lists joined with ``;``)."""
    try:
        return list(cells.cast(pa.string()).to_pylist())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [
            None if v is None else ";".join(map(str, v)) if isinstance(v, list) else str(v)
            for v in cells.to_pylist()
        ]


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


def enforce_policy(
    result: Preflight, policy: PreflightPolicy | None = None, source_rows: np.ndarray | None = None
) -> None:
    """Raise `InvalidRowsError` when rows are invalid and the policy is "stop"; the sample is
    the first issue in the input (``source_rows``: each row's input position, as in
    `preflight`), named by that position and the row's key."""
    policy = policy or PreflightPolicy()
    rejected = int((~result.valid).sum())
    if rejected and policy.on_invalid == "stop":
        issues = result.issues
        if source_rows is not None:
            rows = np.asarray(source_rows)[issues.column("row").to_numpy()]
            issues = issues.set_column(
                issues.schema.get_field_index("row"), "row", pa.array(rows, pa.int64())
            ).sort_by("row")
        first = issues.slice(0, 1).to_pylist()[0]
        named = result.mapping.key_column is not None and first.get("key") not in (None, "")
        key = f" ({first['key']})" if named else ""
        sample = f"row {first['row']}{key} {first['code']}-{first['api_name']}: {first['message']}"
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
    one = RowChecks(1, pa.array([None], pa.string()))
    check_column(one, pa.array([fm.default_value]), fm, spec, mapping, policy)
    if one.bad.any():
        message = one.table().column("message")[0].as_py()
        raise PreflightError(mapping.module, [f"default of {fm.api_name}: {message}"])


def _input_keys(table: pa.Table, mapping: WriteMapping) -> pa.Array:
    column = mapping.key_column
    if column is None or column not in table.column_names:
        return pa.array(np.arange(table.num_rows, dtype=np.int64)).cast(pa.string())
    values = table.column(column).combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values.cast(pa.string())
