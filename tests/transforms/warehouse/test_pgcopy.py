"""COPY into PostgreSQL: CSV and array literals, binary blocks, a round trip of every type."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from transforms.identifiers import quote
from transforms.warehouse import pgcopy
from transforms.warehouse.pgbinary import encode_rows
from transforms.warehouse.pgcopy import copy_batches, csv_bytes, pg_array_literal
from transforms.warehouse.postgres import PostgresWarehouse


def test_array_literals_escape_quotes_backslashes_and_keep_nulls() -> None:
    values = pa.array(
        [["A", "B c"], [], None, ['q"x', "back\\slash", "{,}"], [None]], pa.list_(pa.string())
    )
    assert pg_array_literal(values).to_pylist() == [
        '{"A","B c"}',
        "{}",
        None,
        '{"q\\"x","back\\\\slash","{,}"}',
        "{NULL}",
    ]


def test_array_literals_of_a_sliced_array() -> None:
    values = pa.array([["a"], ["b", "c"], ["d"]], pa.list_(pa.string())).slice(1, 2)
    assert pg_array_literal(values).to_pylist() == ['{"b","c"}', '{"d"}']


def test_csv_bytes_tells_null_from_empty_string() -> None:
    batch = pa.record_batch({"s": pa.array(["", None, "a,b\nc"]), "n": pa.array([1, None, 3])})
    rows = list(
        pacsv.read_csv(
            io.BytesIO(csv_bytes(batch)),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        ).to_pylist()
    )
    assert len(rows) == 3
    assert csv_bytes(batch).split(b"\n")[0] == b'"",1'
    assert csv_bytes(batch).split(b"\n")[1] == b","


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
