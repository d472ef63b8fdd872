"""Pre-flight of a parent/child write: every module, the link and the subform limit.

The parent and each child are validated like a single-module write (the child without
``Parent_Id``, which the link supplies). A child row whose key names no parent row that
is sent is rejected (``INVALID_DATA`` on ``Parent_Id``); a parent with more than
`MAX_CHILD_ROWS_PER_PARENT` rows of one child module is rejected with all its children
(``LIMIT_EXCEEDED``, naming the parent key). Each CSV takes at most 25,000 rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.fields import FieldSpec
from transforms.writeback.csv_builder import MAX_ROWS_PER_CHUNK
from transforms.writeback.errors import PreflightError
from transforms.writeback.mapping import WriteMapping
from transforms.writeback.render import as_text
from transforms.writeback.validate import (
    ISSUE_SCHEMA,
    Preflight,
    PreflightPolicy,
    fields_by_name,
    preflight,
)

#: Zoho's subform limit (docs §2.4, wording UNCERTAIN): rows of one subform per parent.
MAX_CHILD_ROWS_PER_PARENT = 200
PARENT_ID = "Parent_Id"


@dataclass(frozen=True)
class ChildWrite:
    """One child (subform / line-item) module of a parent/child write.

    ``mapping.module`` is the subform's API name; its fields must not map ``Parent_Id``
    (the link supplies it). ``parent_key`` is the child table's column holding the
    parent row's key (the value of the parent table's key column).
    """

    table: pa.Table
    mapping: WriteMapping
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec]
    parent_key: str


def parent_preflight(
    table: pa.Table,
    mapping: WriteMapping,
    fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    policy: PreflightPolicy,
) -> Preflight:
    _check_size(table, mapping.module)
    return preflight(table, mapping, fields, policy)


def crowded_parents(child: ChildWrite) -> dict[str, int]:
    """Parent keys with more than `MAX_CHILD_ROWS_PER_PARENT` rows of this child -> count."""
    keys = link_values(child.table, child.mapping.module, child.parent_key)
    counts = pc.value_counts(pc.drop_null(keys)).to_pylist()
    return {
        str(c["values"]): int(c["counts"])
        for c in counts
        if c["counts"] > MAX_CHILD_ROWS_PER_PARENT
    }


def reject_crowded_parents(
    pre: Preflight,
    keys: pa.Array,
    children: Sequence[ChildWrite],
    crowded: Sequence[dict[str, int]],
) -> Preflight:
    """A parent row with too many child rows is not sent (nor are its children)."""
    for child, over in zip(children, crowded, strict=True):
        if not over:
            continue
        hit = pc.fill_null(pc.is_in(keys, value_set=pa.array(list(over))), False)
        rows = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        module = child.mapping.module
        messages = [_too_many(keys[int(r)].as_py(), over, module) for r in rows]
        pre = _with_issues(pre, rows, module, "LIMIT_EXCEEDED", messages)
    return pre


def _too_many(key: str, over: Mapping[str, int], module: str) -> str:
    return (
        f"parent key '{key}' has {over[key]} {module} rows; Zoho takes at most "
        f"{MAX_CHILD_ROWS_PER_PARENT} per parent, so neither the parent nor its children "
        "are sent"
    )


def _with_issues(
    pre: Preflight, rows: np.ndarray, api_name: str, code: str, messages: Sequence[str]
) -> Preflight:
    """``pre`` with ``rows`` made invalid, each with one more issue."""
    if len(rows) == 0:
        return pre
    idx = pa.array(rows, pa.int64())
    issues = pa.table(
        {
            "row": idx,
            "key": pre.keys.take(idx),
            "api_name": pa.repeat(api_name, len(rows)),
            "code": pa.repeat(code, len(rows)),
            "message": pa.array(messages, pa.string()),
            "column": pa.nulls(len(rows), pa.string()),
            "value": pa.nulls(len(rows), pa.string()),
        },
        schema=ISSUE_SCHEMA,
    )
    merged = pa.concat_tables([pre.issues, issues]).sort_by(
        [("row", "ascending"), ("api_name", "ascending")]
    )
    invalid = np.zeros(pre.total_rows, dtype=bool)
    invalid[rows] = True
    return replace(pre, valid=pre.valid & ~invalid, issues=merged)


def child_preflight(
    child: ChildWrite,
    parent_keys: pa.Array,
    policy: PreflightPolicy,
    crowded: Mapping[str, int],
) -> Preflight:
    module = child.mapping.module
    _check_size(child.table, module)
    specs = (
        dict(child.fields) if isinstance(child.fields, Mapping) else fields_by_name(child.fields)
    )
    if child.mapping.field(PARENT_ID) is not None:
        raise PreflightError(module, [f"{PARENT_ID} comes from the parent link; do not map it"])
    if PARENT_ID not in specs:
        raise PreflightError(module, [f"{module} has no {PARENT_ID}: it is not a subform"])
    specs.pop(PARENT_ID)
    pre = preflight(child.table, child.mapping, specs, policy)
    keys = link_values(child.table, module, child.parent_key)
    over = pc.fill_null(pc.is_in(keys, value_set=pa.array(list(crowded), pa.string())), False)
    over_rows = np.flatnonzero(over.to_numpy(zero_copy_only=False))
    messages = [_too_many(keys[int(r)].as_py(), crowded, module) for r in over_rows]
    pre = _with_issues(pre, over_rows, PARENT_ID, "LIMIT_EXCEEDED", messages)
    known = pc.is_in(keys, value_set=pc.drop_null(parent_keys))
    orphan = np.array(pc.fill_null(pc.invert(known), True).to_numpy(zero_copy_only=False))
    orphan[over_rows] = False
    rows = np.flatnonzero(orphan)
    shown = pc.fill_null(keys.take(pa.array(rows, pa.int64())), "").to_pylist()
    messages = [f"parent key '{k}' names no parent row that is sent" for k in shown]
    return _with_issues(pre, rows, PARENT_ID, "INVALID_DATA", messages)


def _check_size(table: pa.Table, module: str) -> None:
    if table.num_rows > MAX_ROWS_PER_CHUNK:
        raise PreflightError(
            module,
            [f"{table.num_rows} rows; one parent/child job takes at most {MAX_ROWS_PER_CHUNK} "
             "per CSV (split the batch by parent)"],
        )  # fmt: skip


def link_values(table: pa.Table, module: str, column: str) -> pa.Array:
    """The link column as trimmed text, empty as null (errors name the module)."""
    if column not in table.column_names:
        raise PreflightError(module, [f"link column {column!r} is not in the input"])
    values = table.column(column).combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    text = pc.utf8_trim_whitespace(as_text(values))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
