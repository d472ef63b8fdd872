from __future__ import annotations

from pathlib import Path

import pytest

from transforms.errors import WarehouseError
from transforms.warehouse import DEFAULT_WAREHOUSE_URL, open_warehouse
from transforms.warehouse.duckdb import DuckDbWarehouse
from transforms.warehouse.generic import GenericWarehouse
from transforms.warehouse.postgres import PostgresWarehouse

from .pages import SCHEMA, at, page


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
        assert limit[0][0].startswith("488")  # 512 MB


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
