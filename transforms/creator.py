"""Zoho Creator records as typed Arrow tables (pure functions: no network, no state).

The Arrow type of a column comes from the field's Creator type code (``zoho-creator-api.md``
§4) and the application's ``date_format`` and ``time_zone``:

=====================================  ==================================================
Creator field (type code)              Arrow column(s)
=====================================  ==================================================
``ID``                                 ``string`` (19 digits never become numbers)
Number (5)                             ``int64``
Decimal (6), Percent (7), Currency (8) ``decimal128(38, 9)`` (exact; the metadata gives
                                       no scale)
Date (10)                              ``date32``, parsed in the app's date format
Date-time (11), Added/Modified_Time    ``timestamp[us, UTC]``: parsed in the app's format as
                                       local time of the app's time zone, then to UTC
Multi Select (14), Checkbox (15)       ``list<string>``
Decision Box (16)                      ``bool`` (``"true"`` / ``"false"``)
a lookup (reported as 12-15)           ``{name}__ID`` and ``{name}__display`` (strings)
everything else (text, email, URL...)  ``string``
=====================================  ==================================================

The fields metadata cannot tell a lookup from a drop-down (both report 12), so lookups are
named by the caller, or found in Get Records JSON (a value with ``ID`` /
``zc_display_value``). Two inputs share one conversion: ``records_batch`` (Get Records JSON)
and the bulk read CSV read with every column as string (``csv_lookups`` splits its lookup
cells: a 19-digit cell is an ID, anything else a display value, as the CSV layout is
UNCERTAIN). ``convert_creator_batch`` casts; values that do not convert are reported as
``ValueFailure`` and their rows removed, like the CRM path (``transforms.convert``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc

from transforms.convert import ConvertedBatch, ValueFailure, convert_column
from transforms.errors import FatalTransformError
from transforms.writeback.dates import parse_pattern

ID = "ID"
SYSTEM_DATETIMES = ("Added_Time", "Modified_Time")
LOOKUP_ID_SUFFIX = "__ID"
LOOKUP_DISPLAY_SUFFIX = "__display"
CSV_MULTI_SEPARATOR = ","
#: how ``records_batch`` joins a JSON list into one cell before the shared conversion
JSON_MULTI_SEPARATOR = "\x1f"
DECIMAL = pa.decimal128(38, 9)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
_LOOKUP_ID = re.compile(r"^\d{19}$")

#: Creator type code -> kind (codes not listed are text)
KIND_OF_TYPE: Mapping[int, str] = {
    5: "integer",
    6: "decimal",
    7: "decimal",
    8: "decimal",
    10: "date",
    11: "datetime",
    14: "multi",
    15: "multi",
    16: "bool",
}
ARROW_OF_KIND: Mapping[str, pa.DataType] = {
    "text": pa.string(),
    "integer": pa.int64(),
    "decimal": DECIMAL,
    "date": pa.date32(),
    "datetime": UTC_TIMESTAMP,
    "multi": pa.list_(pa.string()),
    "bool": pa.bool_(),
    "lookup_id": pa.string(),
    "lookup_display": pa.string(),
}


class CreatorInputError(FatalTransformError):
    """An app setting or a batch this module cannot read (names the setting or column)."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"transforms.creator: {what}: {reason}")


class FieldLike(Protocol):
    """What the schema needs of a field (``connectors.creator.CreatorField`` has it)."""

    @property
    def link_name(self) -> str: ...

    @property
    def type(self) -> int: ...


def java_date_format(pattern: str) -> str:
    """Creator's ``date_format`` (Java style, ``dd-MMM-yyyy``) as a strftime format."""
    try:
        return parse_pattern(pattern).strftime
    except ValueError as exc:
        raise CreatorInputError(f"date_format {pattern!r}", str(exc)) from None


@dataclass(frozen=True)
class CreatorColumn:
    name: str  # output column
    source: str  # the raw (string) column it is converted from
    kind: str

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_OF_KIND[self.kind]


@dataclass(frozen=True)
class CreatorSchema:
    columns: tuple[CreatorColumn, ...]
    date_format: str  # strftime
    datetime_format: str  # strftime
    time_zone: str
    lookups: frozenset[str]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])


def creator_schema(
    fields: Iterable[FieldLike],
    *,
    date_format: str,
    time_zone: str,
    lookups: Collection[str] = (),
    system_fields: bool = True,
) -> CreatorSchema:
    """The typed columns of a report from its fields metadata and the app's settings."""
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CreatorInputError(f"time_zone {time_zone!r}", "not an IANA time zone") from None
    columns = [CreatorColumn(ID, ID, "text")]
    for spec in fields:
        name = spec.link_name
        if name in lookups:
            columns.append(
                CreatorColumn(name + LOOKUP_ID_SUFFIX, name + LOOKUP_ID_SUFFIX, "lookup_id")
            )
            columns.append(
                CreatorColumn(
                    name + LOOKUP_DISPLAY_SUFFIX, name + LOOKUP_DISPLAY_SUFFIX, "lookup_display"
                )
            )
        else:
            columns.append(CreatorColumn(name, name, KIND_OF_TYPE.get(int(spec.type), "text")))
    if system_fields:
        columns += [CreatorColumn(n, n, "datetime") for n in SYSTEM_DATETIMES]
    fmt = java_date_format(date_format)
    return CreatorSchema(tuple(columns), fmt, fmt + " %H:%M:%S", time_zone, frozenset(lookups))


def found_lookups(records: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Fields whose Get Records values are lookup objects (``ID`` + ``zc_display_value``)."""
    return frozenset(
        name
        for record in records
        for name, value in record.items()
        if isinstance(value, Mapping) and "ID" in value
    )


def records_batch(records: Sequence[Mapping[str, Any]], schema: CreatorSchema) -> pa.RecordBatch:
    """Get Records JSON as raw string columns named like ``schema``'s sources."""
    cells: dict[str, list[str | None]] = {c.source: [] for c in schema.columns}
    for record in records:
        for column in schema.columns:
            cells[column.source].append(_cell(record, column))
    return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in cells.items()})


def _cell(record: Mapping[str, Any], column: CreatorColumn) -> str | None:
    if column.kind in ("lookup_id", "lookup_display"):
        suffix = LOOKUP_ID_SUFFIX if column.kind == "lookup_id" else LOOKUP_DISPLAY_SUFFIX
        value = record.get(column.source[: -len(suffix)])
        if isinstance(value, Mapping):
            key = "ID" if column.kind == "lookup_id" else "zc_display_value"
            return _text(value.get(key))
        # a lookup as a bare ID (UNCERTAIN in Zoho's answers): the ID, no display value
        return _text(value) if column.kind == "lookup_id" else None
    value = record.get(column.source)
    if isinstance(value, list):
        return JSON_MULTI_SEPARATOR.join(map(str, value)) if value else None
    return _text(value)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def convert_records(records: Sequence[Mapping[str, Any]], schema: CreatorSchema) -> ConvertedBatch:
    """Get Records JSON straight to typed columns."""
    return convert_creator_batch(
        records_batch(records, schema), schema, multi_separator=JSON_MULTI_SEPARATOR
    )


def csv_lookups(raw: pa.RecordBatch, schema: CreatorSchema) -> pa.RecordBatch:
    """Add the ``__ID`` / ``__display`` columns of each lookup of a bulk read CSV batch."""
    arrays = dict(zip(raw.schema.names, raw.columns, strict=True))
    for name in sorted(schema.lookups):
        if name not in arrays:
            raise CreatorInputError(f"lookup {name!r}", "the CSV has no such column")
        values = arrays.pop(name)
        is_id = pc.fill_null(pc.match_substring_regex(values, _LOOKUP_ID.pattern), False)
        nulls = pa.nulls(len(values), pa.string())
        arrays[name + LOOKUP_ID_SUFFIX] = pc.if_else(is_id, values, nulls)
        arrays[name + LOOKUP_DISPLAY_SUFFIX] = pc.if_else(is_id, nulls, values)
    return pa.RecordBatch.from_pydict(arrays)


def convert_creator_batch(
    raw: pa.RecordBatch, schema: CreatorSchema, *, multi_separator: str = CSV_MULTI_SEPARATOR
) -> ConvertedBatch:
    """Cast raw string columns to the schema's types; rows with bad values are removed and
    reported. A column missing from ``raw`` is a format error; extra columns are ignored."""
    missing = [c.source for c in schema.columns if c.source not in raw.schema.names]
    if missing:
        raise CreatorInputError(f"column(s) {', '.join(missing)}", "missing from the batch")
    arrays: list[pa.Array] = []
    failures: list[ValueFailure] = []
    for column in schema.columns:
        values = _blank_to_null(raw.column(column.source))
        converted, failed = _convert(values, column, schema, multi_separator)
        arrays.append(converted)
        failures += [
            ValueFailure(
                row, column.source, values[row].as_py(), f"not a valid {column.kind}: {why}"
            )
            for row, why in failed
        ]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema)
    if not failures:
        return ConvertedBatch(batch, (), ())
    bad_rows = {f.row for f in failures}
    rejected = sorted(bad_rows)
    keep = pa.array([row not in bad_rows for row in range(batch.num_rows)])
    return ConvertedBatch(batch.filter(keep), tuple(failures), tuple(rejected))


def _parse(values: pa.Array, fmt: str) -> pa.Array:
    return pc.strptime(values, format=fmt, unit="s", error_is_null=True)


def _parse_dates(values: pa.Array, fmt: str) -> pa.Array:
    """Dates repeat (a few hundred days a year): each distinct value is parsed once."""
    encoded = pc.dictionary_encode(values)
    return pc.take(_parse(encoded.dictionary, fmt), encoded.indices)


def _blank_to_null(values: pa.Array) -> pa.Array:
    values = pc.cast(values, pa.string())
    blank = pc.equal(pc.utf8_trim_whitespace(values), "")
    return pc.if_else(pc.fill_null(blank, False), pa.nulls(len(values), pa.string()), values)


def _convert(
    values: pa.Array, column: CreatorColumn, schema: CreatorSchema, separator: str
) -> tuple[pa.Array, list[tuple[int, str]]]:
    kind = column.kind
    if kind == "multi":
        return pc.split_pattern(values, separator), []
    if kind in ("date", "datetime"):
        fmt = schema.datetime_format if kind == "datetime" else schema.date_format
        stamps = _parse_dates(values, fmt) if kind == "date" else _parse(values, fmt)
        bad = pc.and_(pc.is_valid(values), pc.is_null(stamps))
        failed = [
            (int(i), f"expected the app format {fmt}") for i in pc.indices_nonzero(bad).to_pylist()
        ]
        if kind == "date":
            return pc.cast(pc.cast(stamps, pa.timestamp("s")), pa.date32()), failed
        local = pc.assume_timezone(
            stamps, schema.time_zone, ambiguous="earliest", nonexistent="latest"
        )
        return pc.cast(local, UTC_TIMESTAMP), failed
    if kind == "bool":
        lowered = pc.utf8_lower(values)
        ok = pc.or_(pc.is_null(lowered), pc.is_in(lowered, pa.array(["true", "false"])))
        failed = [
            (int(i), "expected true or false")
            for i in pc.indices_nonzero(pc.invert(ok)).to_pylist()
        ]
        return pc.equal(pc.if_else(ok, lowered, pa.nulls(len(values), pa.string())), "true"), failed
    return convert_column(values, column.arrow_type)
