from __future__ import annotations

import json

import pyarrow as pa
import pytest

from transforms.drift import align_batch, coerce_array, common_type, plan_drift
from transforms.errors import SchemaDriftError
from transforms.schema import DELETED_AT_COLUMN, UTC_TIMESTAMP

BASE = pa.schema([("id", pa.string()), ("Score", pa.int64()), ("Tags", pa.list_(pa.string()))])


def table_of(schema: pa.Schema) -> pa.Schema:
    return pa.schema([*schema, pa.field(DELETED_AT_COLUMN, UTC_TIMESTAMP)])


def test_new_table_is_the_page_plus_the_deletion_mark() -> None:
    plan = plan_drift("t", BASE, None, "freeze")
    assert plan.report.created_table
    assert plan.target_schema.names == ["id", "Score", "Tags", DELETED_AT_COLUMN]
    assert plan.load_schema.names == ["id", "Score", "Tags"]


def test_same_schema_has_no_drift() -> None:
    plan = plan_drift("t", BASE, table_of(BASE), "freeze")
    assert not plan.report.changed
    assert plan.add_columns == ()
    assert plan.widen_columns == ()


def test_added_field_adds_a_column() -> None:
    page = BASE.append(pa.field("Region", pa.string()))
    plan = plan_drift("t", page, table_of(BASE), "freeze")  # adding is fine even when frozen
    assert [f.name for f in plan.add_columns] == ["Region"]
    assert plan.report.to_dict()["added"] == ["Region"]
    assert plan.load_schema.names[-1] == "Region"


def test_removed_field_keeps_its_column_and_loads_nulls() -> None:
    page = pa.schema([("id", pa.string()), ("Tags", pa.list_(pa.string()))])
    plan = plan_drift("t", page, table_of(BASE), "evolve")
    assert plan.report.to_dict()["removed"] == ["Score"]
    assert "Score" in plan.load_schema.names
    batch = pa.record_batch({"id": ["1"], "Tags": [["a"]]})
    aligned = align_batch(batch, plan.load_schema)
    assert aligned.column("Score").to_pylist() == [None]


def test_frozen_type_change_fails_naming_field_old_and_new_type() -> None:
    page = pa.schema(
        [("id", pa.string()), ("Score", pa.decimal128(10, 2)), ("Tags", pa.list_(pa.string()))]
    )
    with pytest.raises(SchemaDriftError) as info:
        plan_drift("crm_Leads", page, table_of(BASE), "freeze")
    error = info.value
    assert (error.table, error.field, error.old_type, error.new_type) == (
        "crm_Leads",
        "Score",
        "int64",
        "decimal128(10, 2)",
    )
    assert "Score" in str(error)
    assert "int64" in str(error)
    assert "decimal128(10, 2)" in str(error)


def test_evolve_widens_and_reports() -> None:
    page = pa.schema([("id", pa.string()), ("Score", pa.decimal128(10, 2)), ("Tags", pa.string())])
    plan = plan_drift("t", page, table_of(BASE), "evolve")
    assert plan.widen_columns == (
        ("Score", pa.int64(), pa.decimal128(21, 2)),
        ("Tags", pa.list_(pa.string()), pa.string()),
    )
    report = plan.report.to_dict()
    assert report["type_changed"] == ["Score", "Tags"]
    json.dumps(report)  # machine-readable as is
    assert "widen_column" in plan.report.to_markdown()


def test_evolve_casts_a_narrower_page_to_the_wider_column() -> None:
    table = pa.schema([("id", pa.string()), ("Score", pa.float64())])
    page = pa.schema([("id", pa.string()), ("Score", pa.int64())])
    plan = plan_drift("t", page, table_of(table), "evolve")
    assert plan.widen_columns == ()
    assert plan.report.changes[0].action == "cast_page_values"
    aligned = align_batch(pa.record_batch({"id": ["1"], "Score": [3]}), plan.load_schema)
    assert aligned.column("Score").to_pylist() == [3.0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (pa.int64(), pa.decimal128(10, 2), pa.decimal128(21, 2)),
        (pa.decimal128(18, 2), pa.decimal128(10, 4), pa.decimal128(20, 4)),
        (pa.decimal128(38, 0), pa.decimal128(10, 5), pa.float64()),
        (pa.int64(), pa.float64(), pa.float64()),
        (pa.date32(), UTC_TIMESTAMP, UTC_TIMESTAMP),
        (pa.bool_(), pa.int64(), pa.string()),
        (pa.list_(pa.string()), pa.string(), pa.string()),
        (pa.string(), pa.int64(), pa.string()),
    ],
)
def test_common_type(old: pa.DataType, new: pa.DataType, expected: pa.DataType) -> None:
    assert common_type(old, new) == expected
    assert common_type(new, old) == expected


def test_lists_become_text_joined_by_semicolons() -> None:
    values = pa.array([["A", "B"], None, []], pa.list_(pa.string()))
    assert coerce_array(values, pa.string()).to_pylist() == ["A;B", None, ""]


def test_existing_table_without_deletion_mark_gets_one() -> None:
    plan = plan_drift("t", BASE, BASE, "freeze")
    assert [f.name for f in plan.add_columns] == [DELETED_AT_COLUMN]
    assert not plan.report.changes


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="drift policy"):
        plan_drift("t", BASE, None, "loose")  # type: ignore[arg-type]
