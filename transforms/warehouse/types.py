"""Arrow types <-> warehouse column types, per dialect.

The mapping is exact for every type ``transforms.schema`` produces, so reading a table's
columns back gives the Arrow schema it was created from (drift detection relies on it):

=====================  ==========================  ============================
Arrow                  DuckDB                      PostgreSQL
=====================  ==========================  ============================
string                 VARCHAR                     text
int64                  BIGINT                      bigint
float64                DOUBLE                      double precision
decimal128(p, s)       DECIMAL(p,s)                numeric(p,s)
bool                   BOOLEAN                     boolean
date32                 DATE                        date
timestamp[us, UTC]     TIMESTAMP WITH TIME ZONE    timestamp with time zone
list<string>           VARCHAR[]                   text[]
=====================  ==========================  ============================

Column types created by someone else map to the nearest Arrow type (``INTEGER`` -> int32...)
and anything unknown to string.
"""

from __future__ import annotations

import re

import pyarrow as pa

from transforms.errors import UnsupportedTypeError
from transforms.schema import UTC_TIMESTAMP

_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", re.IGNORECASE)

_DUCKDB = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "date32[day]": "DATE",
    "timestamp[us, tz=UTC]": "TIMESTAMP WITH TIME ZONE",
    "list<item: string>": "VARCHAR[]",
}
_POSTGRES = {
    "string": "text",
    "int64": "bigint",
    "double": "double precision",
    "bool": "boolean",
    "date32[day]": "date",
    "timestamp[us, tz=UTC]": "timestamp with time zone",
    "list<item: string>": "text[]",
}
_SQL_TO_ARROW: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "text": pa.string(),
    "character varying": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "smallint": pa.int16(),
    "double": pa.float64(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp with time zone": UTC_TIMESTAMP,
    "timestamptz": UTC_TIMESTAMP,
    "varchar[]": pa.list_(pa.string()),
    "text[]": pa.list_(pa.string()),
}


def sql_type(arrow_type: pa.DataType, dialect: str, column: str) -> str:
    """The column type of ``arrow_type`` in ``dialect`` ("duckdb" or "postgresql")."""
    if pa.types.is_decimal(arrow_type):
        name = "DECIMAL" if dialect == "duckdb" else "numeric"
        return f"{name}({arrow_type.precision},{arrow_type.scale})"
    table = _DUCKDB if dialect == "duckdb" else _POSTGRES
    try:
        return table[str(arrow_type)]
    except KeyError:
        raise UnsupportedTypeError(column, str(arrow_type), dialect) from None


def arrow_type(sql: str) -> pa.DataType:
    """The Arrow type of a column type as DuckDB or PostgreSQL reports it."""
    match = _DECIMAL.fullmatch(sql.strip())
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    return _SQL_TO_ARROW.get(sql.strip().lower(), pa.string())
