from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from connectors.fields import FieldSpec
from transforms.convert import convert_batch, convert_column
from transforms.schema import UTC_TIMESTAMP, build_page_schema


def strings(*values: str | None) -> pa.Array:
    return pa.array(values, pa.string())


def test_datetimes_honour_their_offsets() -> None:
    values = strings(
        "2025-03-01T10:15:00+05:30", "2025-03-01T10:15:00-07:00", "2025-03-01T10:15:00Z"
    )
    converted, failed = convert_column(values, UTC_TIMESTAMP)
    assert failed == []
    assert converted.to_pylist() == [
        datetime(2025, 3, 1, 4, 45, tzinfo=UTC),
        datetime(2025, 3, 1, 17, 15, tzinfo=UTC),
        datetime(2025, 3, 1, 10, 15, tzinfo=UTC),
    ]


def test_multi_select_splits_on_semicolons_and_keeps_empty_as_null() -> None:
    converted, _ = convert_column(strings("A;B", "Only", None, "x y;z"), pa.list_(pa.string()))
    assert converted.to_pylist() == [["A", "B"], ["Only"], None, ["x y", "z"]]


@pytest.mark.parametrize(
    ("target", "values", "expected"),
    [
        (pa.int64(), ["1", "-2", None], [1, -2, None]),
        (
            pa.decimal128(18, 2),
            ["1.5", "-0.25", "7"],
            [Decimal("1.50"), Decimal("-0.25"), Decimal("7.00")],
        ),
        (pa.float64(), ["0.5", "1e3"], [0.5, 1000.0]),
        (pa.bool_(), ["true", "false", "TRUE", None], [True, False, True, None]),
        (pa.date32(), ["2025-02-28"], [date(2025, 2, 28)]),
    ],
)
def test_scalar_types_convert(
    target: pa.DataType, values: list[str | None], expected: list[object]
) -> None:
    converted, failed = convert_column(strings(*values), target)
    assert failed == []
    assert converted.to_pylist() == expected


def test_bad_values_are_isolated_and_the_rest_converts() -> None:
    values = strings("2025-01-01", "2025-02-30", None, "2025-03-01", "yesterday")
    converted, failed = convert_column(values, pa.date32())
    assert [index for index, _ in failed] == [1, 4]
    assert "2025-02-30" in failed[0][1]
    assert converted.to_pylist() == [date(2025, 1, 1), None, None, date(2025, 3, 1), None]


def test_decimal_with_too_many_places_is_a_failure_not_a_rounding() -> None:
    _, failed = convert_column(strings("1.25", "1.255"), pa.decimal128(18, 2))
    assert [index for index, _ in failed] == [1]


def test_int_overflow_and_text_in_numbers_fail() -> None:
    _, failed = convert_column(strings("9223372036854775808", "12", "abc"), pa.int64())
    assert [index for index, _ in failed] == [0, 2]


def test_convert_batch_removes_rejected_rows_and_names_the_column() -> None:
    schema = build_page_schema(
        ["id", "Score", "Closing_Date"],
        [FieldSpec("Score", "integer"), FieldSpec("Closing_Date", "date")],
    )
    raw = pa.record_batch(
        {
            "id": strings("1", "2", "3"),
            "Score": strings("1", "x", "3"),
            "Closing_Date": strings("2025-01-01", "2025-01-02", "2025-13-01"),
        }
    )
    result = convert_batch(raw, schema)
    assert result.rejected_rows == (1, 2)
    assert result.batch.column("id").to_pylist() == ["1"]
    assert [(f.row, f.column, f.raw_value) for f in result.failures] == [
        (1, "Score", "x"),
        (2, "Closing_Date", "2025-13-01"),
    ]
    assert result.failures[0].reason.startswith("not a valid integer")
