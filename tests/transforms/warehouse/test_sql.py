from __future__ import annotations

import pytest

from transforms.warehouse.sql import SQL_ROOT, assignments, column_list, render, template

DIALECTS = ("duckdb", "postgresql", "generic")


def test_every_dialect_has_its_sql_files() -> None:
    for dialect in DIALECTS:
        names = {p.stem for p in (SQL_ROOT / dialect).glob("*.sql")}
        assert {"create_table", "add_column", "drop_table", "mark_deleted"} <= names
    assert {"merge", "merge_dedup", "count_duplicate_ids", "widen_column", "table_columns"} <= {
        p.stem for p in (SQL_ROOT / "duckdb").glob("*.sql")
    }
    assert {
        "merge",
        "merge_dedup",
        "copy_staging",
        "create_staging_temp",
        "probe_stored_ids",
        "tune_merge",
    } <= {p.stem for p in (SQL_ROOT / "postgresql").glob("*.sql")}


def test_render_fills_placeholders_with_quoted_identifiers() -> None:
    sql = render(
        "duckdb", "add_column", target='"crm_Leads"', column='"Region"', column_type="VARCHAR"
    )
    assert 'ALTER TABLE "crm_Leads" ADD COLUMN IF NOT EXISTS "Region" VARCHAR' in sql


def test_render_refuses_fragments_that_could_smuggle_sql() -> None:
    for bad in ("x; DROP TABLE y", "'value'", "a -- comment", "a /* b */"):
        with pytest.raises(ValueError, match="unsafe"):
            render("duckdb", "drop_table", staging=bad)


def test_render_names_missing_placeholders() -> None:
    with pytest.raises(KeyError, match="target"):
        render("duckdb", "add_column", column='"a"', column_type="VARCHAR")


def test_templates_hold_no_data_placeholders() -> None:
    for dialect in DIALECTS:
        for path in (SQL_ROOT / dialect).glob("*.sql"):
            text = template(dialect, path.stem)
            assert "%s" not in text, path  # values are bound by name or streamed, never formatted


def test_column_helpers_quote_every_name() -> None:
    assert column_list(["id", "Last_Name"]) == '"id", "Last_Name"'
    assert column_list(["id"], "s.") == 's."id"'
    assert assignments(["A", "B"], "s") == '"A" = s."A", "B" = s."B"'
