"""Any other SQLAlchemy database: the portable fallback, through ``DataFrame.to_sql``.

Slow by design (row inserts), used only when no fast path exists for the dialect. It stores
multi-select values as text joined by ``;`` (no arrays), deduplicates the page in memory,
stages it with ``to_sql`` into a regular table and merges with two portable statements in
one transaction (``sql/generic/merge_*.sql``: delete the stored rows the page replaces, then
insert). Limits: type changes under ``evolve`` only cast the page to the stored column type
(no ALTER COLUMN), a replaced row loses its ``_zoho_deleted_at`` mark, and decimals are
stored with the database's own NUMERIC (SQLite: 64-bit numbers, so 19-digit bigints lose
precision).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from transforms.drift import DriftPlan
from transforms.identifiers import quote
from transforms.schema import EXTRACTED_AT_COLUMN, ID_COLUMN, UTC_TIMESTAMP
from transforms.warehouse.base import LoadHooks, StoreMode, Warehouse
from transforms.warehouse.sql import column_list, render

DIALECT = "generic"


class GenericWarehouse(Warehouse):
    """A database reached only through SQLAlchemy (SQLite, MySQL, ...)."""

    dialect = DIALECT
    driver_errors = (sa.exc.SQLAlchemyError,)

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url)
        self._staged: dict[str, list[pa.RecordBatch]] = {}

    def __repr__(self) -> str:
        return f"GenericWarehouse({self._engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self._engine.dispose()

    def storable_schema(self, schema: pa.Schema) -> pa.Schema:
        return pa.schema(
            [pa.field(f.name, pa.string()) if pa.types.is_list(f.type) else f for f in schema]
        )

    def table_schema(self, table: str) -> pa.Schema | None:
        inspector = sa.inspect(self._engine)
        if not inspector.has_table(table):
            return None
        return pa.schema(
            [pa.field(c["name"], _arrow_type(c["type"])) for c in inspector.get_columns(table)]
        )

    def read_table(self, table: str) -> pa.Table:
        schema = self.table_schema(table)
        if schema is None:
            raise KeyError(table)
        reflected = sa.Table(table, sa.MetaData(), autoload_with=self._engine)
        query = sa.select(reflected).order_by(reflected.c[ID_COLUMN])  # typed result rows
        with self._engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        data = {n: [_from_db(row[i]) for row in rows] for i, n in enumerate(schema.names)}
        return pa.table(data, schema=schema)

    def store_table(self, name: str, table: pa.Table, mode: StoreMode = "replace") -> int:
        table.to_pandas().to_sql(
            name, self._engine, if_exists="replace" if mode == "replace" else "append", index=False
        )
        return table.num_rows

    def query_arrow(self, sql: str) -> pa.Table:
        """Run in a transaction that is rolled back (no READ ONLY mode in every database)."""
        with self._engine.connect() as conn:
            try:
                result = conn.exec_driver_sql(sql)
                names = list(result.keys())
                rows = [tuple(row) for row in result.fetchall()]
            finally:
                conn.rollback()
        frame = pd.DataFrame.from_records(rows, columns=names)
        return pa.Table.from_pandas(frame, preserve_index=False)

    def create_staging(self, staging: str, schema: pa.Schema) -> None:
        self._staged[staging] = []

    def stage(self, staging: str, batch: pa.RecordBatch) -> None:
        self._staged[staging].append(batch)

    def merge(
        self, table: str, staging: str, plan: DriftPlan, version: str, hooks: LoadHooks
    ) -> int | None:
        schema = plan.load_schema
        page = pa.Table.from_batches(self._staged.pop(staging, []), schema=schema)
        page = _newest_per_id(page, version)
        frame = page.to_pandas(types_mapper=None)
        dtypes = {f.name: _sa_type(f.type) for f in schema}
        columns = schema.names
        with self._engine.begin() as conn:
            frame.to_sql(staging, conn, index=False, dtype=dtypes, if_exists="replace")
            for statement in _drift_statements(conn, table, plan):
                conn.execute(sa.text(statement))
            if hooks.inside_merge is not None:
                hooks.inside_merge()
            names = {"target": quote(table), "staging": quote(staging), "version": quote(version)}
            conn.execute(sa.text(render(DIALECT, "merge_delete_older", **names)))
            inserted = conn.execute(
                sa.text(
                    render(
                        DIALECT,
                        "merge_insert_new",
                        **names,
                        columns=column_list(columns),
                        source_columns=column_list(columns, "s."),
                    )
                )
            )
            conn.execute(sa.text(render(DIALECT, "drop_table", staging=quote(staging))))
        return inserted.rowcount

    def drop_staging(self, staging: str) -> None:
        self._staged.pop(staging, None)
        with self._engine.begin() as conn:
            conn.execute(sa.text(render(DIALECT, "drop_table", staging=quote(staging))))

    def apply_deletions(self, table: str, pairs: list[tuple[str, datetime]]) -> int:
        statement = sa.text(render(DIALECT, "mark_deleted", target=quote(table)))
        with self._engine.begin() as conn:
            result = conn.execute(statement, [{"id": i, "deleted_at": d} for i, d in pairs])
        return result.rowcount


def _newest_per_id(page: pa.Table, version: str) -> pa.Table:
    """One row per id: the newest version, then the latest extraction."""
    if page.num_rows == 0:
        return page
    order = [(version, "descending", "at_end"), (EXTRACTED_AT_COLUMN, "descending", "at_end")]
    ranked = page.take(pc.sort_indices(page, sort_keys=order))
    ids = ranked.column(ID_COLUMN).to_pylist()
    seen: set[str] = set()
    keep = []
    for index, record_id in enumerate(ids):
        if record_id not in seen:
            seen.add(record_id)
            keep.append(index)
    return ranked.take(pa.array(keep, pa.int64()))


def _drift_statements(conn: sa.Connection, table: str, plan: DriftPlan) -> list[str]:
    target = quote(table)
    if plan.report.created_table:
        defs = ",\n    ".join(
            f"{quote(f.name)} {_sa_type(f.type).compile(dialect=conn.dialect)}"
            for f in plan.target_schema
        )
        return [render(DIALECT, "create_table", target=target, column_defs=defs)]
    return [
        render(
            DIALECT,
            "add_column",
            target=target,
            column=quote(f.name),
            column_type=str(_sa_type(f.type).compile(dialect=conn.dialect)),
        )
        for f in plan.add_columns
    ]


def _sa_type(arrow: pa.DataType) -> Any:
    if pa.types.is_decimal(arrow):
        return sa.Numeric(arrow.precision, arrow.scale)
    if pa.types.is_integer(arrow):
        return sa.BigInteger()
    if pa.types.is_floating(arrow):
        return sa.Float()
    if pa.types.is_boolean(arrow):
        return sa.Boolean()
    if pa.types.is_date(arrow):
        return sa.Date()
    if pa.types.is_timestamp(arrow):
        return sa.DateTime(timezone=True)
    return sa.Text()


def _arrow_type(sa_type: Any) -> pa.DataType:
    if isinstance(sa_type, sa.Numeric) and not isinstance(sa_type, sa.Float):
        if sa_type.precision is not None and sa_type.scale is not None:
            return pa.decimal128(sa_type.precision, sa_type.scale)
        return pa.float64()
    if isinstance(sa_type, sa.Float):
        return pa.float64()
    if isinstance(sa_type, sa.Integer):
        return pa.int64()
    if isinstance(sa_type, sa.Boolean):
        return pa.bool_()
    if isinstance(sa_type, sa.DateTime):
        return UTC_TIMESTAMP
    if isinstance(sa_type, sa.Date):
        return pa.date32()
    return pa.string()


def _from_db(value: Any) -> Any:
    """SQLite hands timestamps back naive (they were stored in UTC)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return pd.Timestamp(value, tz="UTC").to_pydatetime()
    return value
