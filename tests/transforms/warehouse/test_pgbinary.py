"""The binary COPY encoder: exact bytes for the format, and a round trip of every type."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from transforms.errors import UnsupportedTypeError
from transforms.identifiers import quote
from transforms.warehouse import pgcopy
from transforms.warehouse.pgbinary import encode_rows
from transforms.warehouse.pgcopy import copy_batches
from transforms.warehouse.postgres import PostgresWarehouse


def encoded(*batches: pa.RecordBatch) -> bytes:
    return b"".join(bytes(buffer) for buffer in encode_rows(list(batches)))


def field(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


NULL = struct.pack(">i", -1)


def test_a_tuple_is_its_field_count_then_each_value_with_its_length() -> None:
    batch = pa.record_batch({"s": ["é", None, ""], "n": pa.array([1, None, -2], pa.int64())})
    assert encoded(batch) == (
        b"\x00\x02" + field("é".encode()) + field(struct.pack(">q", 1))
        + b"\x00\x02" + NULL + NULL
        + b"\x00\x02" + field(b"") + field(struct.pack(">q", -2))
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "kind", "digits", "weight", "sign"),
    [
        (Decimal("12345.67"), pa.decimal128(7, 2), [1, 2345, 6700], 1, 0),
        (Decimal("-0.01"), pa.decimal128(7, 2), [0, 0, 100], 1, 0x4000),
        (Decimal("0"), pa.decimal128(4, 0), [0], 0, 0),
        (Decimal("1.00005"), pa.decimal128(6, 5), [1, 0, 5000], 0, 0),
    ],
)
def test_numeric_is_base_10000_digits_aligned_on_the_decimal_point(
    value: Decimal, kind: pa.Decimal128Type, digits: list[int], weight: int, sign: int
) -> None:
    batch = pa.record_batch({"d": pa.array([value], kind)})
    numeric = struct.pack(">hhHh", len(digits), weight, sign, kind.scale)
    numeric += b"".join(struct.pack(">h", d) for d in digits)
    assert encoded(batch) == b"\x00\x01" + field(numeric)


def test_batches_of_a_block_and_sliced_batches_encode_like_one_batch() -> None:
    whole = pa.record_batch(
        {
            "s": ["a", None, "ccc", "d"],
            "l": pa.array([["x"], None, [], ["y", None]], pa.list_(pa.string())),
            "d": pa.array([Decimal("1.5"), None, Decimal("-2"), Decimal("3")], pa.decimal128(9, 1)),
            "b": [True, None, False, True],
        }
    )
    assert encoded(whole.slice(0, 1), whole.slice(1, 2), whole.slice(3)) == encoded(whole)
    copied = pa.RecordBatch.from_pylist(whole.slice(1, 2).to_pylist(), whole.schema)
    assert encoded(whole.slice(1, 2)) == encoded(copied)


def test_a_type_without_a_binary_encoding_names_its_column() -> None:
    batch = pa.record_batch({"Elapsed": pa.array([1], pa.duration("s"))})
    with pytest.raises(UnsupportedTypeError, match="Elapsed"):
        encoded(batch)


# -- a round trip through PostgreSQL -------------------------------------------------------
COLUMNS = {
    "id": ("text", pa.string()),
    "i16": ("smallint", pa.int16()),
    "i32": ("integer", pa.int32()),
    "i64": ("bigint", pa.int64()),
    "f32": ("real", pa.float32()),
    "f64": ("double precision", pa.float64()),
    "ok": ("boolean", pa.bool_()),
    "day": ("date", pa.date32()),
    "at": ("timestamp with time zone", pa.timestamp("us", "UTC")),
    "at_s": ("timestamp with time zone", pa.timestamp("s", "UTC")),
    "money": ("numeric(18,2)", pa.decimal128(18, 2)),
    "huge": ("numeric(38,10)", pa.decimal128(38, 10)),
    "whole": ("numeric(12,0)", pa.decimal128(12, 0)),
    "odd_scale": ("numeric(9,3)", pa.decimal128(9, 3)),
    "tags": ("text[]", pa.list_(pa.string())),
}
ROWS = [
    {
        "id": "1",
        "i16": -32768,
        "i32": 2_147_483_647,
        "i64": -9_223_372_036_854_775_808,
        "f32": 1.5,
        "f64": float("inf"),
        "ok": True,
        "day": date(1900, 1, 1),
        "at": datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        "at_s": datetime(2026, 12, 2, 18, 0, 1, tzinfo=UTC),
        "money": Decimal("9999999999999999.99"),
        "huge": Decimal("-9999999999999999999999999999.9999999999"),
        "whole": Decimal("-123456789012"),
        "odd_scale": Decimal("-0.001"),
        "tags": ["Café", 'quote " and \\ backslash', "{,}"],
    },
    {
        "id": '2 with "quotes", commas,\nnewlines and 日本語',
        "i16": 0,
        "i32": 0,
        "i64": 0,
        "f32": 0.0,
        "f64": -0.25,
        "ok": False,
        "day": date(2099, 12, 31),
        "at": datetime(2000, 1, 1, tzinfo=UTC),
        "at_s": datetime(1970, 1, 1, tzinfo=UTC),
        "money": Decimal("0"),
        "huge": Decimal("0.0000000001"),
        "whole": Decimal("0"),
        "odd_scale": Decimal("123456.789"),
        "tags": [],
    },
    {name: None for name in COLUMNS} | {"id": "3", "tags": [None, ""]},
    {name: None for name in COLUMNS} | {"id": ""},
]


@pytest.fixture
def table(pg_url: str) -> Iterator[tuple[psycopg.Connection, str]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with PostgresWarehouse(pg_url) as warehouse:  # autocommit, UTC session
        con = warehouse.connection
        defs = ", ".join(f"{quote(column)} {kind}" for column, (kind, _) in COLUMNS.items())
        con.execute(f"CREATE TABLE {quote(name)} ({defs})")
        try:
            yield con, name
        finally:
            con.execute(f"DROP TABLE {quote(name)}")


@pytest.mark.postgres
def test_every_type_round_trips_through_postgresql(table: tuple[psycopg.Connection, str]) -> None:
    con, name = table
    schema = pa.schema([(column, kind) for column, (_, kind) in COLUMNS.items()])
    batch = pa.RecordBatch.from_pylist(ROWS, schema)
    with con.cursor() as cursor:
        # the first row alone, the rest as a slice: offsets into shared buffers
        assert copy_batches(cursor, name, schema.names, [batch.slice(0, 1), batch.slice(1)]) == 4
    stored = con.execute(f"SELECT * FROM {quote(name)}").fetchall()
    expected = [tuple(row.get(column) for column in COLUMNS) for row in ROWS]
    assert sorted(stored, key=lambda row: row[0]) == sorted(expected, key=lambda row: row[0])


@pytest.mark.postgres
def test_a_failing_read_aborts_the_copy_and_stores_nothing(
    table: tuple[psycopg.Connection, str],
) -> None:
    con, name = table
    batch = pa.record_batch({"id": ["a"]})

    def batches() -> Iterator[pa.RecordBatch]:
        yield batch
        raise OSError("disk gone")

    with con.cursor() as cursor, pytest.raises(OSError, match="disk gone"):
        copy_batches(cursor, name, ["id"], batches())
    assert con.execute(f"SELECT count(*) FROM {quote(name)}").fetchone() == (0,)


@pytest.mark.postgres
def test_blocks_start_small_and_double_up_to_the_block_size(
    table: tuple[psycopg.Connection, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    con, name = table
    monkeypatch.setattr(pgcopy, "COPY_FIRST_BLOCK_ROWS", 2)
    monkeypatch.setattr(pgcopy, "COPY_BLOCK_ROWS", 8)
    blocks: list[int] = []

    def spy(batches: Sequence[pa.RecordBatch]) -> Iterator[pa.Buffer]:
        blocks.append(sum(batch.num_rows for batch in batches))
        return encode_rows(batches)

    monkeypatch.setattr(pgcopy, "encode_rows", spy)
    ids = [f"{i:02d}" for i in range(24)]
    batches = [pa.record_batch({"id": ids[i : i + 2]}) for i in range(0, 24, 2)]
    with con.cursor() as cursor:
        assert copy_batches(cursor, name, ["id"], batches) == 24
    assert blocks == [2, 4, 8, 8, 2]
    stored = con.execute(f"SELECT id FROM {quote(name)} ORDER BY id").fetchall()
    assert [row[0] for row in stored] == ids
