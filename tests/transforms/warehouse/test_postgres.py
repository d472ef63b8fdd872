"""PostgreSQL specifics that need no server (the behaviour tests run in test_loading.py)."""

from __future__ import annotations

import io

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from transforms.warehouse.postgres import PostgresWarehouse, csv_bytes, pg_array_literal


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


def test_unknown_ingest_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="ingest"):
        PostgresWarehouse("postgresql+psycopg://u@127.0.0.1:1/db", ingest="bulk")  # type: ignore[arg-type]


def test_repr_and_errors_never_show_the_password() -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        PostgresWarehouse("postgresql+psycopg://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=1")
    assert "s3cret-pw" not in str(info.value)
