"""`transforms.lake.types`: every Arrow type becomes one Delta can store, read back as written."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.transforms.lake.pages import lead, page_zip, read_page
from transforms.lake import LakeTable
from transforms.lake.types import from_delta_schema, lake_schema, lake_type, to_lake_table

UTC_US = pa.timestamp("us", tz="UTC")
IST = timezone(timedelta(hours=5, minutes=30))

# (arrow type, values, stored type, values read back)
CASES: list[tuple[str, pa.DataType, list[Any], pa.DataType, list[Any]]] = [
    (
        "timestamp ns in another zone",
        pa.timestamp("ns", tz="Asia/Kolkata"),
        [datetime(2025, 3, 1, 10, 15, 0, 123456, tzinfo=IST), None],
        UTC_US,
        [datetime(2025, 3, 1, 4, 45, 0, 123456, tzinfo=UTC), None],
    ),
    (
        "timestamp without zone",
        pa.timestamp("ms"),
        [datetime(2025, 3, 1, 10, 15), None],
        UTC_US,
        [datetime(2025, 3, 1, 10, 15, tzinfo=UTC), None],
    ),
    ("uint8", pa.uint8(), [255, None], pa.int16(), [255, None]),
    ("uint16", pa.uint16(), [65535, None], pa.int32(), [65535, None]),
    ("uint32", pa.uint32(), [2**32 - 1, None], pa.int64(), [2**32 - 1, None]),
    (
        "uint64",
        pa.uint64(),
        [2**64 - 1, None],
        pa.decimal128(20, 0),
        [Decimal(2**64 - 1), None],
    ),
    ("float16", pa.float16(), [1.5, None], pa.float32(), [1.5, None]),
    (
        "decimal256 wider than 38",
        pa.decimal256(40, 2),
        [Decimal("12345678901234567890123456789012345678.25"), None],
        pa.string(),
        ["12345678901234567890123456789012345678.25", None],
    ),
    (
        "decimal256 within 38",
        pa.decimal256(20, 4),
        [Decimal("1.2500"), None],
        pa.decimal128(20, 4),
        [Decimal("1.2500"), None],
    ),
    ("date64", pa.date64(), [date(2025, 3, 1), None], pa.date32(), [date(2025, 3, 1), None]),
    ("time64", pa.time64("us"), [time(1, 2, 3, 4), None], pa.string(), ["01:02:03.000004", None]),
    ("duration", pa.duration("ms"), [timedelta(seconds=2), None], pa.int64(), [2_000_000, None]),
    ("large_string", pa.large_string(), ["ü", None], pa.string(), ["ü", None]),
    ("string_view", pa.string_view(), ["名前", None], pa.string(), ["名前", None]),
    ("large_binary", pa.large_binary(), [b"\x00", None], pa.binary(), [b"\x00", None]),
    (
        "dictionary",
        pa.dictionary(pa.int8(), pa.string()),
        ["Hot", None],
        pa.string(),
        ["Hot", None],
    ),
    (
        "large_list of uint8",
        pa.large_list(pa.uint8()),
        [[1, 2], None],
        pa.list_(pa.int16()),
        [[1, 2], None],
    ),
    (
        "struct",
        pa.struct([("n", pa.uint32()), ("s", pa.large_string())]),
        [{"n": 1, "s": "a"}, None],
        pa.struct([("n", pa.int64()), ("s", pa.string())]),
        [{"n": 1, "s": "a"}, None],
    ),
    ("null", pa.null(), [None, None], pa.string(), [None, None]),
]


@pytest.mark.parametrize(
    ("arrow_type", "values", "stored", "read_back"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_column_is_stored_as_its_lake_type_and_read_back(
    tmp_path: Path,
    arrow_type: pa.DataType,
    values: list[Any],
    stored: pa.DataType,
    read_back: list[Any],
) -> None:
    assert lake_type(arrow_type) == stored
    page = pa.table({"id": ["1", "2"], "value": pa.array(values, arrow_type)})
    converted = to_lake_table(page)
    assert converted.schema == lake_schema(page.schema)
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(page, "1001")
    got = lake.read().sort_by("id")
    assert got.schema.field("value").type == stored
    assert got["value"].to_pylist() == read_back


def test_the_pipeline_page_types_pass_unchanged_and_read_back_equal(tmp_path: Path) -> None:
    page = read_page(page_zip(tmp_path, "1001", [lead(1, "2025-03-01T10:15:00+05:30")]))
    assert to_lake_table(page) is page
    lake = LakeTable.open(str(tmp_path), "crm", "Leads")
    lake.append_page(page, "1001")
    stored = lake.schema()
    assert stored is not None
    assert stored.remove(stored.get_field_index("_zoho_deleted_at")) == page.schema
    assert lake.read().drop_columns(["_zoho_deleted_at"]).to_pylist() == page.to_pylist()


def test_from_delta_schema_names_list_children_as_pyarrow_does() -> None:
    delta = pa.schema([pa.field("Tags", pa.list_(pa.field("element", pa.string())))])
    assert from_delta_schema(delta) == pa.schema([pa.field("Tags", pa.list_(pa.string()))])
