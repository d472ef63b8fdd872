"""PostgreSQL specifics (what every dialect shares: test_loading.py; COPY: test_pgcopy.py)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest

from transforms.identifiers import quote
from transforms.warehouse import postgres
from transforms.warehouse.base import LoadHooks
from transforms.warehouse.postgres import PostgresWarehouse

from .pages import SCHEMA, at, page


def test_unknown_ingest_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="ingest"):
        PostgresWarehouse("postgresql+psycopg://u@127.0.0.1:1/db", ingest="bulk")  # type: ignore[arg-type]


def test_repr_and_errors_never_show_the_password() -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        PostgresWarehouse("postgresql+psycopg://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=1")
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.postgres
@pytest.mark.parametrize("limit", [1, 10 << 20])
def test_the_direct_load_falls_back_to_staging_for_big_pages_and_repeated_ids(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    # limit=1: the page is too big to keep, so it is staged; 10 MiB: it is copied straight
    # into the new table until the repeated id makes the COPY fail, then staged. Both merge.
    monkeypatch.setattr(postgres, "DIRECT_LOAD_MAX_BYTES", limit)
    table = f"t_{uuid.uuid4().hex[:12]}"
    batches = [
        page([{"id": "1", "Name": "v1", "Modified_Time": at(1)}]),
        page([{"id": "2", "Name": "b", "Modified_Time": at(1)}]),
        page([{"id": "1", "Name": "v2", "Modified_Time": at(2)}]),
    ]
    with PostgresWarehouse(pg_url) as warehouse:
        try:
            result = warehouse.load(table, SCHEMA, batches)
            assert result.rows_staged == 3
            assert result.rows_merged == 2
            stored = warehouse.read_table(table)
            assert stored.column("Name").to_pylist() == ["v2", "b"]
        finally:
            warehouse.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")


@pytest.mark.postgres
def test_a_page_into_an_existing_table_is_probed_for_stored_ids(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # new ids only: copied straight into the table; a stored id among the first rows:
    # copied into staging only (no failed COPY into the table first), merged, newest wins
    table = f"t_{uuid.uuid4().hex[:12]}"
    copied_into: list[str] = []
    copy = postgres.copy_batches

    def spy(cursor: Any, target: str, *rest: Any) -> int:
        copied_into.append("table" if target == table else "staging")
        return copy(cursor, target, *rest)

    monkeypatch.setattr(postgres, "copy_batches", spy)
    loads = [
        [{"id": "1", "Name": "a", "Modified_Time": at(1)}],
        [{"id": "2", "Name": "b", "Modified_Time": at(1)}],
        [{"id": "3", "Name": "c", "Modified_Time": at(1)},
         {"id": "2", "Name": "b2", "Modified_Time": at(2)}],
    ]  # fmt: skip
    with PostgresWarehouse(pg_url) as warehouse:
        try:
            paths = []
            for rows in loads:
                copied_into.clear()
                result = warehouse.load(table, SCHEMA, [page(rows)])
                paths.append(list(copied_into))
            assert paths == [["table"], ["table"], ["staging"]]
            assert result.rows_merged == 2
            stored = warehouse.read_table(table)
            assert stored.column("Name").to_pylist() == ["a", "b2", "c"]
        finally:
            warehouse.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")


def _primary_key(con: psycopg.Connection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT a.attname FROM pg_index AS i JOIN pg_attribute AS a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
        [quote(table)],
    ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("rows", "merged", "names"),
    [
        ([("1", "a", 1), ("2", "b", 1)], 2, ["a", "b"]),
        ([("1", "v1", 1), ("2", "b", 1), ("1", "v2", 2)], 2, ["v2", "b"]),
        ([], 0, []),
    ],
    ids=["new-ids", "repeated-id", "empty-page"],
)
def test_a_new_table_gets_its_primary_key_however_its_first_page_loads(
    pg_url: str, rows: list[tuple[str, str, int]], merged: int, names: list[str]
) -> None:
    # new ids: copied in, then keyed; a repeated id: adding the key fails, the savepoint
    # is rolled back, the key is added to the empty table and the page merged; no rows:
    # created with its key. Every way, a later page merges on that key.
    table = f"t_{uuid.uuid4().hex[:12]}"
    first = [{"id": i, "Name": name, "Modified_Time": at(v)} for i, name, v in rows]
    with PostgresWarehouse(pg_url) as warehouse:
        try:
            result = warehouse.load(table, SCHEMA, [page(first)] if first else [])
            assert result.rows_merged == merged
            assert _primary_key(warehouse.connection, table) == ["id"]
            assert warehouse.read_table(table).column("Name").to_pylist() == names
            newer = {"id": "1", "Name": "z", "Modified_Time": at(3)}
            warehouse.load(table, SCHEMA, [page([newer])])
            stored = warehouse.read_table(table)
            assert stored.column("Name").to_pylist() == ["z", *names[1:]]
        finally:
            warehouse.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")


def _waiting_on_a_lock(con: psycopg.Connection) -> int:
    row = con.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
@pytest.mark.parametrize("ingest", ["binary", "csv"])
def test_two_loads_creating_one_table_at_once_both_succeed(pg_url: str, ingest: Any) -> None:
    # load A creates the table and holds its transaction open until load B (another
    # connection, which also planned a CREATE) is waiting on it; then A commits and B must
    # load into A's table instead of failing with DuplicateTable
    table = f"t_{uuid.uuid4().hex[:12]}"
    errors: list[BaseException] = []
    b_planned = threading.Event()
    with (
        PostgresWarehouse(pg_url, ingest=ingest) as a,
        PostgresWarehouse(pg_url, ingest=ingest) as b,
        psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as watcher,
    ):

        def hold_until_b_waits() -> None:
            b_loader.start()
            assert b_planned.wait(120)
            for _ in range(1200):  # B reaches the lock in milliseconds; allow two minutes
                if _waiting_on_a_lock(watcher):
                    return
                threading.Event().wait(0.1)
            raise AssertionError("load B never waited for load A")

        def load_b() -> None:
            try:
                planned = b.table_schema(table)
                b_planned.set()
                assert planned is None  # B plans a CREATE too
                b.load(table, SCHEMA, [page([{"id": "2", "Name": "b", "Modified_Time": at(1)}])])
            except BaseException as exc:  # reported to the test thread
                errors.append(exc)

        b_loader = threading.Thread(target=load_b)
        try:
            hooks = LoadHooks(inside_merge=hold_until_b_waits)
            rows = [page([{"id": "1", "Name": "a", "Modified_Time": at(1)}])]
            a.load(table, SCHEMA, rows, hooks=hooks)
            b_loader.join(120)
            assert errors == []
            assert a.read_table(table).column("Name").to_pylist() == ["a", "b"]
        finally:
            a.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")
