"""Loader behaviour every dialect must share; runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from transforms.errors import SchemaDriftError
from transforms.schema import build_page_schema
from transforms.warehouse import LoadHooks, Warehouse

from ..samples import EXPECTED
from ..samples import FIELDS as ALL_FIELDS
from .pages import SCHEMA, at, by_id, page


class Killed(RuntimeError):
    """The injected failure."""


def kill() -> None:
    raise Killed("process killed between staging and merge")


def test_every_type_round_trips_with_equal_values(warehouse: Warehouse, table_name: str) -> None:
    header = ["id", *[f.api_name for f in ALL_FIELDS], "Account_Name.Account_Name", "Extra"]
    schema = build_page_schema(header, ALL_FIELDS).arrow_schema
    rows = [{"id": record_id, **values} for record_id, values in EXPECTED.items()]
    warehouse.load(table_name, schema, [page(rows, schema=schema)])
    stored = by_id(warehouse.read_table(table_name))
    assert set(stored) == set(EXPECTED)
    for record_id, expected in EXPECTED.items():
        assert {k: stored[record_id][k] for k in expected} == expected
    assert warehouse.table_schema(table_name) == pa.schema(
        [*schema, ("_zoho_deleted_at", schema.field("_extracted_at").type)]
    )


def test_reloading_the_same_page_keeps_one_row_per_id(
    warehouse: Warehouse, table_name: str
) -> None:
    batch = page(
        [
            {"id": "1", "Name": "a", "Modified_Time": at(1)},
            {"id": "2", "Name": "b", "Modified_Time": at(1)},
        ]
    )
    first = warehouse.load(table_name, SCHEMA, [batch])
    second = warehouse.load(table_name, SCHEMA, [batch])
    assert first.drift.created_table
    assert not second.drift.changed
    table = warehouse.read_table(table_name)
    assert table.column("id").to_pylist() == ["1", "2"]


def test_an_older_version_after_a_newer_one_keeps_the_newer(
    warehouse: Warehouse, table_name: str
) -> None:
    warehouse.load(
        table_name, SCHEMA, [page([{"id": "1", "Name": "new", "Modified_Time": at(10)}])]
    )
    warehouse.load(table_name, SCHEMA, [page([{"id": "1", "Name": "old", "Modified_Time": at(5)}])])
    assert by_id(warehouse.read_table(table_name))["1"]["Name"] == "new"
    warehouse.load(
        table_name, SCHEMA, [page([{"id": "1", "Name": "newer", "Modified_Time": at(11)}])]
    )
    assert by_id(warehouse.read_table(table_name))["1"]["Name"] == "newer"


def test_the_newest_version_wins_inside_one_page(warehouse: Warehouse, table_name: str) -> None:
    rows = [
        {"id": "1", "Name": "v2", "Modified_Time": at(2)},
        {"id": "1", "Name": "v3", "Modified_Time": at(3)},
        {"id": "1", "Name": "v1", "Modified_Time": at(1)},
    ]
    warehouse.load(table_name, SCHEMA, [page(rows[:2]), page(rows[2:])])
    stored = warehouse.read_table(table_name)
    assert stored.num_rows == 1
    assert stored.column("Name").to_pylist() == ["v3"]


def test_without_modified_time_the_latest_extraction_wins(
    warehouse: Warehouse, table_name: str
) -> None:
    schema = pa.schema([f for f in SCHEMA if f.name != "Modified_Time"])
    warehouse.load(
        table_name,
        schema,
        [page([{"id": "1", "Name": "later"}], schema=schema, extracted_at=at(9))],
    )
    warehouse.load(
        table_name,
        schema,
        [page([{"id": "1", "Name": "earlier"}], schema=schema, extracted_at=at(1))],
    )
    assert warehouse.read_table(table_name).column("Name").to_pylist() == ["later"]


def test_killed_before_merge_leaves_a_new_table_absent_and_rerun_completes(
    warehouse: Warehouse, table_name: str
) -> None:
    batch = page([{"id": "1", "Name": "a", "Modified_Time": at(1)}])
    with pytest.raises(Killed):
        warehouse.load(table_name, SCHEMA, [batch], hooks=LoadHooks(after_staging=kill))
    assert warehouse.table_schema(table_name) is None
    result = warehouse.load(table_name, SCHEMA, [batch])
    assert result.rows_staged == 1
    assert warehouse.read_table(table_name).column("Name").to_pylist() == ["a"]


def test_killed_load_leaves_the_target_unchanged_and_rerun_completes(
    warehouse: Warehouse, table_name: str
) -> None:
    warehouse.load(
        table_name, SCHEMA, [page([{"id": "1", "Name": "kept", "Modified_Time": at(1)}])]
    )
    before = warehouse.read_table(table_name)
    update = page(
        [
            {"id": "1", "Name": "changed", "Modified_Time": at(2)},
            {"id": "2", "Name": "new", "Modified_Time": at(2)},
        ]
    )
    with pytest.raises(Killed):
        warehouse.load(table_name, SCHEMA, [update], hooks=LoadHooks(after_staging=kill))
    assert warehouse.read_table(table_name).equals(before)
    warehouse.load(table_name, SCHEMA, [update])
    assert warehouse.read_table(table_name).column("Name").to_pylist() == ["changed", "new"]


def test_a_stored_id_after_new_ids_still_merges_by_version(
    warehouse: Warehouse, table_name: str
) -> None:
    # PostgreSQL copies a page of new ids straight into the table; a stored id in a later
    # batch must still take the merge (newest version wins, older versions lose).
    warehouse.load(
        table_name,
        SCHEMA,
        [
            page(
                [
                    {"id": "1", "Name": "one", "Modified_Time": at(5)},
                    {"id": "2", "Name": "two", "Modified_Time": at(5)},
                ]
            )
        ],
    )
    batches = [
        page([{"id": "3", "Name": "three", "Modified_Time": at(6)}]),
        page([{"id": "4", "Name": "four", "Modified_Time": at(6)}]),
        page(
            [
                {"id": "1", "Name": "one newer", "Modified_Time": at(6)},
                {"id": "2", "Name": "two older", "Modified_Time": at(4)},
            ]
        ),
    ]
    result = warehouse.load(table_name, SCHEMA, batches)
    assert result.rows_staged == 4
    stored = by_id(warehouse.read_table(table_name))
    assert {k: v["Name"] for k, v in stored.items()} == {
        "1": "one newer",
        "2": "two",
        "3": "three",
        "4": "four",
    }


def test_a_page_failing_midway_raises_its_own_error_and_changes_nothing(
    warehouse: Warehouse, table_name: str
) -> None:
    class Unreadable(RuntimeError):
        """The page's reading error (a bad zip, say)."""

    def failing_page(first_id: str) -> Iterator[pa.RecordBatch]:
        yield page([{"id": first_id, "Name": "half", "Modified_Time": at(9)}])
        raise Unreadable("the rest of the page cannot be read")

    with pytest.raises(Unreadable):
        warehouse.load(table_name, SCHEMA, failing_page("1"))
    assert warehouse.table_schema(table_name) is None
    warehouse.load(
        table_name, SCHEMA, [page([{"id": "1", "Name": "kept", "Modified_Time": at(1)}])]
    )
    before = warehouse.read_table(table_name)
    for first_id in ("1", "2"):  # a page updating stored ids, a page of new ids
        with pytest.raises(Unreadable):
            warehouse.load(table_name, SCHEMA, failing_page(first_id))
        assert warehouse.read_table(table_name).equals(before)


def test_failure_inside_the_merge_transaction_rolls_back_the_drift_too(
    warehouse: Warehouse, table_name: str
) -> None:
    warehouse.load(
        table_name, SCHEMA, [page([{"id": "1", "Name": "kept", "Modified_Time": at(1)}])]
    )
    wider = SCHEMA.append(pa.field("Region", pa.string()))
    batch = page([{"id": "1", "Name": "x", "Region": "EMEA", "Modified_Time": at(2)}], schema=wider)
    with pytest.raises(Killed):
        warehouse.load(table_name, wider, [batch], hooks=LoadHooks(inside_merge=kill))
    schema = warehouse.table_schema(table_name)
    assert schema is not None
    assert "Region" not in schema.names
    assert warehouse.read_table(table_name).column("Name").to_pylist() == ["kept"]
    warehouse.load(table_name, wider, [batch])
    assert by_id(warehouse.read_table(table_name))["1"]["Region"] == "EMEA"


def test_drift_added_and_removed_fields(warehouse: Warehouse, table_name: str) -> None:
    warehouse.load(
        table_name, SCHEMA, [page([{"id": "1", "Name": "a", "Score": 1, "Modified_Time": at(1)}])]
    )
    wider = pa.schema([f for f in SCHEMA if f.name != "Score"]).append(
        pa.field("Region", pa.string())
    )
    result = warehouse.load(
        table_name,
        wider,
        [page([{"id": "2", "Name": "b", "Region": "APAC", "Modified_Time": at(2)}], schema=wider)],
    )
    report = result.drift.to_dict()
    assert (report["added"], report["removed"]) == (["Region"], ["Score"])
    rows = by_id(warehouse.read_table(table_name))
    assert (rows["1"]["Score"], rows["1"]["Region"]) == (1, None)
    assert (rows["2"]["Score"], rows["2"]["Region"]) == (None, "APAC")


def test_drift_widened_under_evolve(warehouse: Warehouse, table_name: str) -> None:
    warehouse.load(
        table_name,
        SCHEMA,
        [page([{"id": "1", "Score": 7, "Tags": ["A", "B"], "Modified_Time": at(1)}])],
    )
    changed = pa.schema(
        [
            pa.field(
                f.name, {"Score": pa.decimal128(10, 2), "Tags": pa.string()}.get(f.name, f.type)
            )
            for f in SCHEMA
        ]
    )
    batch = page(
        [{"id": "2", "Score": Decimal("2.5"), "Tags": "C", "Modified_Time": at(2)}], schema=changed
    )
    result = warehouse.load(table_name, changed, [batch], policy="evolve")
    assert result.drift.to_dict()["type_changed"] == ["Score", "Tags"]
    schema = warehouse.table_schema(table_name)
    assert schema is not None
    assert (schema.field("Score").type, schema.field("Tags").type) == (
        pa.decimal128(21, 2),
        pa.string(),
    )
    rows = by_id(warehouse.read_table(table_name))
    assert (str(rows["1"]["Score"]), rows["1"]["Tags"]) == ("7.00", "A;B")
    assert (str(rows["2"]["Score"]), rows["2"]["Tags"]) == ("2.50", "C")


def test_drift_frozen_fails_and_loads_nothing(warehouse: Warehouse, table_name: str) -> None:
    warehouse.load(table_name, SCHEMA, [page([{"id": "1", "Score": 7, "Modified_Time": at(1)}])])
    changed = pa.schema(
        [pa.field(f.name, pa.string() if f.name == "Score" else f.type) for f in SCHEMA]
    )
    batch = page([{"id": "2", "Score": "seven", "Modified_Time": at(2)}], schema=changed)
    with pytest.raises(SchemaDriftError, match="'Score' changed type from int64 to string"):
        warehouse.load(table_name, changed, [batch], policy="freeze")
    assert warehouse.read_table(table_name).column("id").to_pylist() == ["1"]


def test_mark_deleted_stamps_rows_and_keeps_them(warehouse: Warehouse, table_name: str) -> None:
    rows = [{"id": str(i), "Name": f"n{i}", "Modified_Time": at(1)} for i in range(1, 4)]
    warehouse.load(table_name, SCHEMA, [page(rows)])
    when = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    marked = warehouse.mark_deleted(table_name, [("2", when), ("404", when)])
    assert marked == 1
    stored = by_id(warehouse.read_table(table_name))
    assert set(stored) == {"1", "2", "3"}
    assert stored["2"]["_zoho_deleted_at"] == when
    assert stored["1"]["_zoho_deleted_at"] is None
    warehouse.load(table_name, SCHEMA, [page(rows)])  # a merge never clears the mark
    assert by_id(warehouse.read_table(table_name))["2"]["_zoho_deleted_at"] == when


def test_mark_deleted_on_a_missing_table_marks_nothing(
    warehouse: Warehouse, table_name: str
) -> None:
    assert warehouse.mark_deleted(table_name, [("1", datetime(2025, 1, 1, tzinfo=UTC))]) == 0


def test_values_that_look_like_sql_are_just_data(warehouse: Warehouse, table_name: str) -> None:
    nasty = 'x\'); DROP TABLE "t"; -- \\ " ; {}'
    warehouse.load(
        table_name,
        SCHEMA,
        [page([{"id": "1", "Name": nasty, "Tags": [nasty, "{a,b}"], "Modified_Time": at(1)}])],
    )
    row = by_id(warehouse.read_table(table_name))["1"]
    assert (row["Name"], row["Tags"]) == (nasty, [nasty, "{a,b}"])


def test_a_page_without_modified_time_still_updates_by_extraction_time(
    warehouse: Warehouse, table_name: str
) -> None:
    warehouse.load(
        table_name,
        SCHEMA,
        [page([{"id": "1", "Name": "a", "Modified_Time": at(5)}], extracted_at=at(10))],
    )
    schema = pa.schema([f for f in SCHEMA if f.name != "Modified_Time"])
    later = page([{"id": "1", "Name": "b"}], schema=schema, extracted_at=at(20))
    result = warehouse.load(table_name, schema, [later])
    assert result.drift.to_dict()["removed"] == ["Modified_Time"]
    row = by_id(warehouse.read_table(table_name))["1"]
    assert (row["Name"], row["Modified_Time"]) == ("b", None)
