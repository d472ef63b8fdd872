"""DDL shared by the DuckDB and PostgreSQL loaders: column definitions and drift statements."""

from __future__ import annotations

import pyarrow as pa

from transforms.drift import DriftPlan
from transforms.identifiers import quote
from transforms.schema import ID_COLUMN
from transforms.warehouse.sql import render
from transforms.warehouse.types import sql_type

#: PostgreSQL compares ids byte by byte (``COLLATE "C"``) instead of by the database's
#: locale: ids are ASCII digit strings, so equality and order are the same, and the primary
#: key costs less server CPU than a locale-aware comparison
_ID_COLLATION = {"postgresql": ' COLLATE "C"'}


def column_defs(dialect: str, schema: pa.Schema) -> str:
    """``"id" VARCHAR,\\n    "Amount" DECIMAL(18,2), ...`` for CREATE TABLE."""
    return ",\n    ".join(
        f"{quote(f.name)} {sql_type(f.type, dialect, f.name)}"
        + (_ID_COLLATION.get(dialect, "") if f.name == ID_COLUMN else "")
        for f in schema
    )


def drift_statements(
    dialect: str, table: str, plan: DriftPlan, *, create: str = "create_table"
) -> list[str]:
    """CREATE TABLE (the ``create`` template) for a new table, else ADD COLUMN / ALTER
    COLUMN TYPE per the plan."""
    target = quote(table)
    if plan.report.created_table:
        defs = column_defs(dialect, plan.target_schema)
        return [render(dialect, create, target=target, column_defs=defs)]
    statements = [
        render(
            dialect,
            "add_column",
            target=target,
            column=quote(f.name),
            column_type=sql_type(f.type, dialect, f.name),
        )
        for f in plan.add_columns
    ]
    for name, old, new in plan.widen_columns:
        template = "widen_list_to_text" if pa.types.is_list(old) else "widen_column"
        statements.append(
            render(
                dialect,
                template,
                target=target,
                column=quote(name),
                column_type=sql_type(new, dialect, name),
            )
        )
    return statements
