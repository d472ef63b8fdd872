"""The portable fallback, exercised on SQLite (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from transforms.errors import SchemaDriftError
from transforms.schema import build_page_schema
from transforms.warehouse import LoadHooks, open_warehouse
from transforms.warehouse.generic import GenericWarehouse

from ..samples import EXPECTED
from ..samples import FIELDS as ALL_FIELDS
from .pages import SCHEMA, at, by_id, page


@pytest.fixture
def sqlite(tmp_path: Path) -> GenericWarehouse:
    opened = open_warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    assert isinstance(opened, GenericWarehouse)
    return opened


def test_merge_keeps_one_row_per_id_and_the_newest_version(sqlite: GenericWarehouse) -> None:
    with sqlite:
        rows = [
            {"id": "1", "Name": "v2", "Tags": ["A", "B"], "Modified_Time": at(2)},
            {"id": "1", "Name": "v1", "Modified_Time": at(1)},
            {"id": "2", "Name": "b", "Score": 5, "Modified_Time": at(1)},
        ]
        sqlite.load("crm_Leads", SCHEMA, [page(rows)])
        sqlite.load("crm_Leads", SCHEMA, [page(rows)])
        sqlite.load(
            "crm_Leads", SCHEMA, [page([{"id": "2", "Name": "old", "Modified_Time": at(0)}])]
        )
        stored = by_id(sqlite.read_table("crm_Leads"))
        assert set(stored) == {"1", "2"}
        assert (stored["1"]["Name"], stored["1"]["Tags"]) == ("v2", "A;B")
        assert (stored["2"]["Name"], stored["2"]["Score"]) == ("b", 5)
        assert stored["1"]["Modified_Time"] == at(2)


def test_killed_load_leaves_the_table_unchanged(sqlite: GenericWarehouse) -> None:
    with sqlite:
        sqlite.load("t", SCHEMA, [page([{"id": "1", "Name": "kept", "Modified_Time": at(1)}])])

        def kill() -> None:
            raise RuntimeError("killed")

        update = page([{"id": "1", "Name": "changed", "Modified_Time": at(2)}])
        with pytest.raises(RuntimeError):
            sqlite.load("t", SCHEMA, [update], hooks=LoadHooks(inside_merge=kill))
        assert sqlite.read_table("t").column("Name").to_pylist() == ["kept"]
        sqlite.load("t", SCHEMA, [update])
        assert sqlite.read_table("t").column("Name").to_pylist() == ["changed"]


def test_added_column_and_frozen_type_change(sqlite: GenericWarehouse) -> None:
    with sqlite:
        sqlite.load("t", SCHEMA, [page([{"id": "1", "Score": 1, "Modified_Time": at(1)}])])
        wider = SCHEMA.append(SCHEMA.field("Name").with_name("Region"))
        result = sqlite.load(
            "t", wider, [page([{"id": "2", "Region": "EU", "Modified_Time": at(1)}], schema=wider)]
        )
        assert result.drift.to_dict()["added"] == ["Region"]
        assert by_id(sqlite.read_table("t"))["2"]["Region"] == "EU"
        changed = SCHEMA.set(
            SCHEMA.get_field_index("Score"), SCHEMA.field("Name").with_name("Score")
        )
        with pytest.raises(SchemaDriftError):
            sqlite.load(
                "t", changed, [page([{"id": "3", "Score": "x"}], schema=changed)], policy="freeze"
            )


def test_mark_deleted_binds_values(sqlite: GenericWarehouse) -> None:
    with sqlite:
        sqlite.load("t", SCHEMA, [page([{"id": "1", "Modified_Time": at(1)}])])
        when = datetime(2025, 5, 1, tzinfo=UTC)
        assert sqlite.mark_deleted("t", [("1", when), ("x' OR '1'='1", when)]) == 1
        assert sqlite.read_table("t").column("_zoho_deleted_at").to_pylist() == [when]


def test_every_type_round_trips(sqlite: GenericWarehouse) -> None:
    fields = [f for f in ALL_FIELDS if f.api_name != "Big"]
    header = ["id", *[f.api_name for f in fields], "Account_Name.Account_Name", "Extra"]
    schema = build_page_schema(header, fields).arrow_schema
    rows = [
        {"id": i, **{k: v for k, v in values.items() if k != "Big"}}
        for i, values in EXPECTED.items()
    ]
    with sqlite:
        sqlite.load("t", schema, [page(rows, schema=schema)])
        stored = by_id(sqlite.read_table("t"))
    for record_id, expected in EXPECTED.items():
        # SQLite has no 19-digit integers: "Big" (bigint) is checked on DuckDB/PostgreSQL only
        joined = {k: ";".join(v) if isinstance(v, list) else v for k, v in expected.items()}
        del joined["Big"]
        assert {k: stored[record_id][k] for k in joined} == joined
