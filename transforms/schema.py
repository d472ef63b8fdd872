"""Arrow schema of a bulk-read page, built from the CSV header and the module's field metadata.

Mapping of Zoho ``data_type`` to Arrow (``arrow_type_for``):

=============================================  ===============================================
Zoho data type                                 Arrow type
=============================================  ===============================================
``id`` column, lookup/ownerlookup/userlookup   ``string`` (19-digit ids never become numbers)
integer                                        ``int64``
bigint                                         ``decimal128(19, 0)`` (19 digits overflow int64)
double/decimal/currency/percent                ``decimal128(p, decimal_place)`` when the metadata
                                               gives ``decimal_place``, else ``float64``
boolean                                        ``bool``
date                                           ``date32``
datetime                                       ``timestamp[us, tz=UTC]`` (CSV offsets honoured)
multiselectpicklist/-lookup/multiuserlookup    ``list<string>`` (values split on ``;``)
everything else (text, picklist, email, ...)   ``string``
=============================================  ===============================================

For decimals the precision is ``length + decimal_place`` (capped at 38) when the metadata
gives a ``length``, else 38: wide enough never to reject a value Zoho accepted.

Dotted lookup columns (``Account_Name.Account_Name``) belong to another module, so the
page's metadata does not describe them: they are strings unless the caller passes a
`FieldSpec` whose ``api_name`` is the dotted name. Their column name joins the parts with a
double underscore (``Account_Name__Account_Name``). Every page also gets the metadata
columns ``_zoho_module``, ``_zoho_job_id`` and ``_extracted_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from connectors.fields import (
    DECIMAL_TYPES,
    INTEGER_TYPES,
    LOOKUP_TYPES,
    MULTI_VALUE_TYPES,
    FieldSpec,
)
from transforms.errors import CsvFormatError, InvalidIdentifierError
from transforms.identifiers import validate_api_name

ID_COLUMN = "id"
VERSION_COLUMN = "Modified_Time"
MODULE_COLUMN = "_zoho_module"
JOB_ID_COLUMN = "_zoho_job_id"
EXTRACTED_AT_COLUMN = "_extracted_at"
DELETED_AT_COLUMN = "_zoho_deleted_at"
LOOKUP_SEPARATOR = "__"
MULTI_VALUE_SEPARATOR = ";"
MAX_DECIMAL_PRECISION = 38

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

#: Metadata columns appended to every page, in this order.
METADATA_FIELDS: tuple[pa.Field, ...] = (
    pa.field(MODULE_COLUMN, pa.string()),
    pa.field(JOB_ID_COLUMN, pa.string()),
    pa.field(EXTRACTED_AT_COLUMN, UTC_TIMESTAMP),
)


def arrow_type_for(field: FieldSpec) -> pa.DataType:
    """The Arrow type a field's CSV values convert to (see the module docstring)."""
    data_type = field.data_type
    if data_type in LOOKUP_TYPES:
        return pa.string()
    if data_type == "bigint":
        return pa.decimal128(19, 0)
    if data_type in INTEGER_TYPES:
        return pa.int64()
    if data_type in DECIMAL_TYPES:
        if field.decimal_place is None:
            return pa.float64()
        scale = max(0, min(field.decimal_place, MAX_DECIMAL_PRECISION))
        precision = MAX_DECIMAL_PRECISION
        if field.length is not None and field.length > 0:
            precision = min(MAX_DECIMAL_PRECISION, field.length + scale)
        return pa.decimal128(max(precision, scale, 1), scale)
    if data_type == "boolean":
        return pa.bool_()
    if data_type == "date":
        return pa.date32()
    if data_type == "datetime":
        return UTC_TIMESTAMP
    if data_type in MULTI_VALUE_TYPES:
        return pa.list_(pa.string())
    return pa.string()


def column_name_for(header: str) -> str:
    """The warehouse/Parquet column name of a CSV header (dotted lookups joined by ``__``)."""
    parts = header.split(".")
    for part in parts:
        validate_api_name(part, "field")
    name = LOOKUP_SEPARATOR.join(parts)
    return validate_api_name(name, "column")


@dataclass(frozen=True)
class ColumnSpec:
    """One CSV column: its header, its column name, its Arrow type and where that came from."""

    source: str
    name: str
    arrow_type: pa.DataType
    data_type: str

    def to_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "name": self.name,
            "arrow_type": str(self.arrow_type),
            "zoho_data_type": self.data_type,
        }


@dataclass(frozen=True)
class PageSchema:
    """The typed layout of one bulk-read CSV: its columns in header order plus metadata."""

    columns: tuple[ColumnSpec, ...]
    unknown_headers: tuple[str, ...] = ()

    @property
    def arrow_schema(self) -> pa.Schema:
        """Data columns (renamed, typed) followed by the metadata columns."""
        fields = [pa.field(c.name, c.arrow_type) for c in self.columns]
        return pa.schema([*fields, *METADATA_FIELDS])

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.source for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)


def build_page_schema(header: Sequence[str], fields: Iterable[FieldSpec]) -> PageSchema:
    """Type every column of ``header`` from ``fields``; unknown headers become strings.

    Raises `CsvFormatError` when the header lacks ``id`` or repeats a name, and
    `InvalidIdentifierError` when a header is not a Zoho API name.
    """
    by_name = {f.api_name: f for f in fields}
    if ID_COLUMN not in header:
        raise CsvFormatError("<header>", "the CSV header has no 'id' column")
    columns: list[ColumnSpec] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for source in header:
        name = column_name_for(source)
        if name in seen:
            raise InvalidIdentifierError(
                source, "column", f"maps to {name!r}, like the header {seen[name]!r}"
            )
        seen[name] = source
        spec = by_name.get(source)
        if source == ID_COLUMN:
            columns.append(ColumnSpec(source, name, pa.string(), "id"))
        elif spec is not None:
            columns.append(ColumnSpec(source, name, arrow_type_for(spec), spec.data_type))
        elif "." in source:
            columns.append(ColumnSpec(source, name, pa.string(), "lookup_field"))
        else:
            unknown.append(source)
            columns.append(ColumnSpec(source, name, pa.string(), "unknown"))
    return PageSchema(columns=tuple(columns), unknown_headers=tuple(unknown))
