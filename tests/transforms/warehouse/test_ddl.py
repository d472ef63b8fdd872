"""Column definitions: types per dialect, and PostgreSQL's byte-order ids."""

from __future__ import annotations

import pyarrow as pa

from transforms.warehouse.ddl import column_defs

SCHEMA = pa.schema([("id", pa.string()), ("Name", pa.string()), ("n", pa.int64())])


def test_postgresql_compares_ids_byte_by_byte_and_other_text_by_locale() -> None:
    assert column_defs("postgresql", SCHEMA).split(",\n    ") == [
        '"id" text COLLATE "C"',
        '"Name" text',
        '"n" bigint',
    ]


def test_duckdb_ids_keep_the_default_collation() -> None:
    assert column_defs("duckdb", SCHEMA).split(",\n    ") == [
        '"id" VARCHAR',
        '"Name" VARCHAR',
        '"n" BIGINT',
    ]
