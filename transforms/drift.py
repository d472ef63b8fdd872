"""Schema drift between a page and the warehouse table it loads into.

Rules, per column:

- **added** (in the page, not in the table): the column is added to the table.
- **removed** (in the table, not in the page): the column stays; rows loaded from now on
  hold nulls there.
- **type changed**: follows the table's policy.
  ``freeze`` fails with `SchemaDriftError` naming the field, the old and the new type, before
  anything is loaded. ``evolve`` picks the narrowest type both can be stored in without loss
  (`common_type`): the table column is altered when that type differs from the column's, and
  the page's values are cast to it.

`plan_drift` is pure (schemas in, plan out); the warehouse applies the plan inside the merge
transaction. `DriftReport` is the machine-readable record of what happened (``to_dict`` for
JSON, ``to_markdown`` for a Prefect artifact).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from transforms.errors import SchemaDriftError
from transforms.schema import (
    DELETED_AT_COLUMN,
    MAX_DECIMAL_PRECISION,
    MULTI_VALUE_SEPARATOR,
    UTC_TIMESTAMP,
)

DriftPolicy = Literal["evolve", "freeze"]
DRIFT_POLICIES: tuple[DriftPolicy, ...] = ("evolve", "freeze")
ChangeKind = Literal["added", "removed", "type_changed"]
Action = Literal["add_column", "keep_column", "widen_column", "cast_page_values"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column that differs between the page and the table."""

    column: str
    kind: ChangeKind
    old_type: str | None
    new_type: str | None
    resolved_type: str | None
    action: Action


@dataclass(frozen=True)
class DriftReport:
    """What differed between a page and its table, and what the load did about it."""

    table: str
    policy: DriftPolicy
    created_table: bool
    changes: tuple[ColumnDrift, ...] = ()

    @property
    def changed(self) -> bool:
        return self.created_table or bool(self.changes)

    def by_kind(self, kind: ChangeKind) -> tuple[ColumnDrift, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "policy": self.policy,
            "created_table": self.created_table,
            "added": [c.column for c in self.by_kind("added")],
            "removed": [c.column for c in self.by_kind("removed")],
            "type_changed": [c.column for c in self.by_kind("type_changed")],
            "changes": [asdict(c) for c in self.changes],
        }

    def to_markdown(self) -> str:
        if not self.changed:
            return f"No schema drift on `{self.table}`."
        lines = [f"### Schema drift on `{self.table}` (policy `{self.policy}`)", ""]
        if self.created_table:
            lines.append("Table created by this load.")
        if self.changes:
            lines.append("| column | change | old type | new type | stored as | action |")
            lines.append("|---" * 6 + "|")
            for c in self.changes:
                lines.append(
                    f"| {c.column} | {c.kind} | {c.old_type or ''} | {c.new_type or ''} "
                    f"| {c.resolved_type or ''} | {c.action} |"
                )
        return "\n".join(lines)


@dataclass(frozen=True)
class DriftPlan:
    """The report plus what the warehouse has to do and the schema the page is cast to."""

    report: DriftReport
    target_schema: pa.Schema
    add_columns: tuple[pa.Field, ...]
    widen_columns: tuple[tuple[str, pa.DataType, pa.DataType], ...]

    @property
    def load_schema(self) -> pa.Schema:
        """The staging layout: every table column except the ones only the warehouse sets."""
        return pa.schema([f for f in self.target_schema if f.name != DELETED_AT_COLUMN])


def plan_drift(
    table: str, page: pa.Schema, existing: pa.Schema | None, policy: DriftPolicy
) -> DriftPlan:
    """Compare ``page`` with the table's current schema (``None``: no table yet)."""
    if policy not in DRIFT_POLICIES:
        raise ValueError(f"drift policy must be one of {DRIFT_POLICIES}, not {policy!r}")
    deleted = pa.field(DELETED_AT_COLUMN, UTC_TIMESTAMP)
    if existing is None:
        target = pa.schema([*page, deleted])
        report = DriftReport(table, policy, created_table=True)
        return DriftPlan(report, target, (), ())
    changes: list[ColumnDrift] = []
    target_fields: list[pa.Field] = []
    widen: list[tuple[str, pa.DataType, pa.DataType]] = []
    for column in existing:
        if column.name not in page.names:
            target_fields.append(column)
            if column.name != DELETED_AT_COLUMN:
                t = str(column.type)
                changes.append(ColumnDrift(column.name, "removed", t, None, t, "keep_column"))
            continue
        new_type = page.field(column.name).type
        if new_type.equals(column.type):
            target_fields.append(column)
            continue
        if policy == "freeze":
            raise SchemaDriftError(table, column.name, str(column.type), str(new_type))
        resolved = common_type(column.type, new_type)
        action: Action = "cast_page_values"
        if not resolved.equals(column.type):
            widen.append((column.name, column.type, resolved))
            action = "widen_column"
        changes.append(
            ColumnDrift(
                column.name, "type_changed", str(column.type), str(new_type), str(resolved), action
            )
        )
        target_fields.append(pa.field(column.name, resolved))
    added = [f for f in page if f.name not in existing.names]
    for f in added:
        t = str(f.type)
        changes.append(ColumnDrift(f.name, "added", None, t, t, "add_column"))
    if DELETED_AT_COLUMN not in existing.names:  # a table created by something else
        added.append(deleted)
    report = DriftReport(table, policy, created_table=False, changes=tuple(changes))
    return DriftPlan(report, pa.schema([*target_fields, *added]), tuple(added), tuple(widen))


def common_type(old: pa.DataType, new: pa.DataType) -> pa.DataType:
    """The narrowest type holding every value of both ``old`` and ``new`` (string at worst)."""
    if old.equals(new):
        return old
    if _is_exact_number(old) and _is_exact_number(new):
        return _common_decimal(_as_decimal(old), _as_decimal(new))
    numeric = (pa.types.is_integer, pa.types.is_decimal, pa.types.is_floating)
    if any(f(old) for f in numeric) and any(f(new) for f in numeric):
        return pa.float64()
    temporal = {pa.date32(), UTC_TIMESTAMP}
    if old in temporal and new in temporal:
        return UTC_TIMESTAMP
    return pa.string()


def coerce_array(values: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array:
    """Cast a page column to the table column's type chosen by `plan_drift`."""
    if values.type.equals(target):
        return values
    if pa.types.is_list(values.type) and pa.types.is_string(target):
        return pc.binary_join(values, MULTI_VALUE_SEPARATOR)
    return pc.cast(values, target)


def align_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Give ``batch`` exactly ``schema``'s columns: cast present ones, null-fill missing ones."""
    if batch.schema.equals(schema):  # the usual case: no drift, nothing to do per column
        return batch
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
        else:
            arrays.append(coerce_array(batch.column(index), field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _is_exact_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_decimal(t)


def _as_decimal(t: pa.DataType) -> tuple[int, int]:
    if pa.types.is_decimal(t):
        return t.precision, t.scale
    return 19, 0  # every 64-bit integer has at most 19 digits


def _common_decimal(a: tuple[int, int], b: tuple[int, int]) -> pa.DataType:
    scale = max(a[1], b[1])
    digits = max(a[0] - a[1], b[0] - b[1])
    if digits + scale > MAX_DECIMAL_PRECISION:
        return pa.float64()
    if scale == 0 and digits <= 18:
        return pa.int64()
    return pa.decimal128(digits + scale, scale)
