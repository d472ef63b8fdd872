from __future__ import annotations

import pyarrow as pa
import pytest

from transforms.errors import UnsupportedTypeError
from transforms.schema import UTC_TIMESTAMP
from transforms.warehouse.types import arrow_type, sql_type

OUR_TYPES = [
    pa.string(),
    pa.int64(),
    pa.float64(),
    pa.decimal128(18, 2),
    pa.decimal128(38, 0),
    pa.bool_(),
    pa.date32(),
    UTC_TIMESTAMP,
    pa.list_(pa.string()),
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgresql"])
@pytest.mark.parametrize("arrow", OUR_TYPES, ids=str)
def test_every_type_we_produce_round_trips(dialect: str, arrow: pa.DataType) -> None:
    assert arrow_type(sql_type(arrow, dialect, "c")) == arrow


def test_types_as_the_databases_report_them() -> None:
    assert arrow_type("DECIMAL(18,2)") == pa.decimal128(18, 2)
    assert arrow_type("numeric(21,2)") == pa.decimal128(21, 2)
    assert arrow_type("timestamp with time zone") == UTC_TIMESTAMP
    assert arrow_type("VARCHAR[]") == pa.list_(pa.string())
    assert arrow_type("INTEGER") == pa.int32()
    assert arrow_type("some_extension_type") == pa.string()


def test_unsupported_arrow_type_names_column_and_dialect() -> None:
    with pytest.raises(UnsupportedTypeError, match=r"'Blob'.*duckdb"):
        sql_type(pa.binary(), "duckdb", "Blob")
