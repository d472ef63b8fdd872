from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from transforms.errors import WarehouseError
from transforms.warehouse import DEFAULT_WAREHOUSE_URL, open_warehouse
from transforms.warehouse.base import LoadHooks, Warehouse
from transforms.warehouse.duckdb import DuckDbWarehouse
from transforms.warehouse.generic import GenericWarehouse
from transforms.warehouse.postgres import PostgresWarehouse

from .pages import SCHEMA, at, by_id, page


def test_open_warehouse_picks_the_loader_from_the_url(tmp_path: Path) -> None:
    with open_warehouse(f"duckdb:///{tmp_path / 'sub' / 'w.duckdb'}") as duck:
        assert isinstance(duck, DuckDbWarehouse)
    assert (tmp_path / "sub" / "w.duckdb").exists()
    with open_warehouse("duckdb:///:memory:") as memory:
        assert isinstance(memory, DuckDbWarehouse)
    with open_warehouse(f"sqlite:///{tmp_path / 'x.sqlite'}") as other:
        assert isinstance(other, GenericWarehouse)
    assert DEFAULT_WAREHOUSE_URL.startswith("duckdb:///")
    assert PostgresWarehouse.dialect == "postgresql"


def test_memory_limit_from_the_url(tmp_path: Path) -> None:
    with open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=1GB") as warehouse:
        assert isinstance(warehouse, DuckDbWarehouse)
        limit = warehouse.connection.execute("SELECT current_setting('memory_limit')").fetchall()
        assert limit[0][0].startswith("953")  # 1 GB in MiB as DuckDB reports it
    with open_warehouse(f"duckdb:///{tmp_path / 'd.duckdb'}") as default:
        assert isinstance(default, DuckDbWarehouse)
        limit = default.connection.execute("SELECT current_setting('memory_limit')").fetchall()
        assert limit[0][0].startswith("244")  # 256 MB


def test_driver_failures_become_warehouse_errors_naming_the_table(tmp_path: Path) -> None:
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb")
    warehouse.close()
    with pytest.raises(WarehouseError) as info:
        warehouse.load("crm_Leads", SCHEMA, [page([{"id": "1", "Modified_Time": at(1)}])])
    assert info.value.table == "crm_Leads"
    assert "unchanged" in str(info.value)


def test_the_file_is_readable_by_plain_duckdb(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "w.duckdb"
    with DuckDbWarehouse(path) as warehouse:
        warehouse.load(
            "crm_Leads", SCHEMA, [page([{"id": "1", "Tags": ["A"], "Modified_Time": at(1)}])]
        )
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute('SELECT id, "Tags" FROM "crm_Leads"').fetchall() == [("1", ["A"])]


class _Killed(RuntimeError):
    """A fault injected by a hook."""


def _kill() -> None:
    raise _Killed("injected")


@pytest.fixture
def one_row_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch is staged on its own (the default groups them by 32k rows)."""
    import transforms.warehouse.duckdb as duckdb_module

    monkeypatch.setattr(duckdb_module, "STAGE_BATCH_ROWS", 1)


def _names(warehouse: Warehouse, table: str) -> dict[str, str]:
    return {k: v["Name"] for k, v in by_id(warehouse.read_table(table)).items()}


def test_new_ids_are_inserted_without_staging(
    tmp_path: Path, one_row_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged: list[str] = []
    with DuckDbWarehouse(tmp_path / "w.duckdb") as warehouse:
        original = warehouse.create_staging

        def spy(name: str, schema: pa.Schema) -> None:
            staged.append(name)
            original(name, schema)

        monkeypatch.setattr(warehouse, "create_staging", spy)
        first = [page([{"id": str(i), "Name": f"n{i}", "Modified_Time": at(1)}]) for i in (1, 2)]
        result = warehouse.load("crm_Leads", SCHEMA, first)
        assert (result.rows_staged, result.rows_merged, staged) == (2, 2, [])
        more = [page([{"id": str(i), "Name": f"n{i}", "Modified_Time": at(1)}]) for i in (3, 4)]
        warehouse.load("crm_Leads", SCHEMA, more)
        assert staged == []
        # a stored id, then new ids: from the clash on, the page is staged and merged
        mixed = [
            page([{"id": "5", "Name": "five", "Modified_Time": at(2)}]),
            page([{"id": "1", "Name": "one newer", "Modified_Time": at(2)}]),
            page([{"id": "6", "Name": "six", "Modified_Time": at(2)}]),
        ]
        warehouse.load("crm_Leads", SCHEMA, mixed)
        assert len(staged) == 1
        assert _names(warehouse, "crm_Leads") == {
            "1": "one newer",
            "2": "n2",
            "3": "n3",
            "4": "n4",
            "5": "five",
            "6": "six",
        }


def test_an_id_repeated_in_a_later_batch_keeps_the_newest_version(
    tmp_path: Path, one_row_batches: None
) -> None:
    batches = [
        page([{"id": "1", "Name": "one", "Modified_Time": at(5)}]),
        page([{"id": "2", "Name": "two", "Modified_Time": at(5)}]),
        page([{"id": "1", "Name": "one newer", "Modified_Time": at(6)}]),
        page([{"id": "2", "Name": "two older", "Modified_Time": at(4)}]),
    ]
    with DuckDbWarehouse(tmp_path / "w.duckdb") as warehouse:
        result = warehouse.load("crm_Leads", SCHEMA, batches)
        assert result.rows_staged == 4
        assert _names(warehouse, "crm_Leads") == {"1": "one newer", "2": "two"}
        warehouse.load("crm_Leads", SCHEMA, batches)  # idempotent reload
        assert _names(warehouse, "crm_Leads") == {"1": "one newer", "2": "two"}


def test_a_killed_direct_insert_leaves_the_table_unchanged(
    tmp_path: Path, one_row_batches: None
) -> None:
    new_ids = [page([{"id": str(i), "Name": "new", "Modified_Time": at(2)}]) for i in (2, 3)]
    with DuckDbWarehouse(tmp_path / "w.duckdb") as warehouse:
        with pytest.raises(_Killed):
            warehouse.load("crm_Leads", SCHEMA, new_ids, hooks=LoadHooks(after_staging=_kill))
        assert warehouse.table_schema("crm_Leads") is None
        warehouse.load(
            "crm_Leads", SCHEMA, [page([{"id": "1", "Name": "kept", "Modified_Time": at(1)}])]
        )
        before = warehouse.read_table("crm_Leads")
        for hooks in (LoadHooks(after_staging=_kill), LoadHooks(inside_merge=_kill)):
            with pytest.raises(_Killed):
                warehouse.load("crm_Leads", SCHEMA, new_ids, hooks=hooks)
            assert warehouse.read_table("crm_Leads").equals(before)
        warehouse.load("crm_Leads", SCHEMA, new_ids)
        assert _names(warehouse, "crm_Leads") == {"1": "kept", "2": "new", "3": "new"}


@pytest.mark.parametrize("limit", [1, 10 << 20])
def test_the_direct_insert_falls_back_to_staging_for_big_pages_and_repeated_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    # limit=1: the page is too big to keep, so it is staged; 10 MiB: it is inserted straight
    # into the new table, the clash check finds the repeated id, and it is staged. Both merge.
    import transforms.warehouse.duckdb as duckdb_module

    monkeypatch.setattr(duckdb_module, "DIRECT_LOAD_MAX_BYTES", limit)
    batches = [
        page([{"id": "1", "Name": "v1", "Modified_Time": at(1)}]),
        page([{"id": "2", "Name": "b", "Modified_Time": at(1)}]),
        page([{"id": "1", "Name": "v2", "Modified_Time": at(2)}]),
    ]
    with DuckDbWarehouse(tmp_path / "w.duckdb") as warehouse:
        result = warehouse.load("crm_Leads", SCHEMA, batches)
        assert (result.rows_staged, result.rows_merged) == (3, 2)
        assert _names(warehouse, "crm_Leads") == {"1": "v2", "2": "b"}


def test_only_a_page_after_a_staged_one_probes_for_stored_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def load(warehouse: DuckDbWarehouse, ids: range, name: str) -> list[str]:
        queries: list[str] = []
        original = warehouse._scalar

        def spy(query: str, table: str, source: pa.Table) -> object:
            queries.append(query)
            return original(query, table, source)

        monkeypatch.setattr(warehouse, "_scalar", spy)
        rows = [{"id": str(i), "Name": name, "Modified_Time": at(3)} for i in ids]
        warehouse.load("crm_Leads", SCHEMA, [page(rows)])
        return queries

    with DuckDbWarehouse(tmp_path / "w.duckdb") as warehouse:
        # a full export: a new table, then pages following a direct one: no probe
        assert load(warehouse, range(0, 3), "a") == ["count_page_clashes"]
        assert load(warehouse, range(3, 6), "a") == ["count_page_clashes"]
        # stored ids: the insert is rolled back and the page staged (no probe yet)
        assert load(warehouse, range(0, 2), "b") == ["count_page_clashes"]
        # after a staged page, a page is probed first; stored ids go to staging at once
        assert load(warehouse, range(2, 4), "c") == ["probe_stored_ids"]
        assert load(warehouse, range(6, 8), "d") == ["probe_stored_ids", "count_page_clashes"]
        assert _names(warehouse, "crm_Leads") == {
            **{str(i): "b" for i in (0, 1)},
            **{str(i): "c" for i in (2, 3)},
            **{str(i): "a" for i in (4, 5)},
            **{str(i): "d" for i in (6, 7)},
        }
