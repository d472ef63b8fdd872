"""Cutting a parent/child write into jobs, and joining the jobs' results back.

One bulk write job takes at most 25,000 rows per CSV, so a big parent/child write is
cut by parent: each batch holds whole parents with all their children, and at most the
limit of rows in every CSV. Child rows that name no parent (rejected by pre-flight)
travel in the first batch. The per-row results and pre-flight issues of the batches are
renumbered to the rows' positions in each module's source and merged, so every input
row of every module has exactly one outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from engine.writeback.parent_child import ParentChildReport
from engine.writeback.parent_child_preflight import link_values
from transforms.writeback import ParentChildMapping, summarize
from transforms.writeback.csv_builder import MAX_ROWS_PER_CHUNK
from transforms.writeback.errors import PreflightError

#: Per batch: row positions in the parent table, then in each child table (mapping order).
Batch = list[np.ndarray]


def plan_batches(
    tables: Sequence[pa.Table], mapping: ParentChildMapping, limit: int = MAX_ROWS_PER_CHUNK
) -> list[Batch]:
    """Batches of whole parents with their children, at most ``limit`` rows per CSV."""
    parent_keys = link_values(tables[0], mapping.parent.module, mapping.parent_key).to_pylist()
    _check_unique(parent_keys, mapping.parent.module)
    groups: list[dict[str | None, list[int]]] = []
    for table, child in zip(tables[1:], mapping.children, strict=True):
        group: dict[str | None, list[int]] = {}
        for row, key in enumerate(link_values(table, child.mapping.module, child.parent_key)
                                  .to_pylist()):  # fmt: skip
            group.setdefault(key, []).append(row)
        groups.append(group)
    batches: list[tuple[list[int], list[list[int]]]] = []
    parents: list[int] = []
    children: list[list[int]] = [[] for _ in groups]
    for row, key in enumerate(parent_keys):
        kids = [g.pop(key, []) if key is not None else [] for g in groups]
        full = len(parents) + 1 > limit or any(
            len(have) + len(add) > limit for have, add in zip(children, kids, strict=True)
        )
        if parents and full:
            batches.append((parents, children))
            parents, children = [], [[] for _ in groups]
        parents.append(row)
        for have, add in zip(children, kids, strict=True):
            have.extend(add)
    batches.append((parents, children))
    for kept, group in zip(batches[0][1], groups, strict=True):  # orphans: first batch
        for rows in group.values():
            kept.extend(rows)
    return [
        [np.asarray(p, dtype=np.int64), *(np.sort(np.asarray(c, dtype=np.int64)) for c in cs)]
        for p, cs in batches
    ]


def _check_unique(keys: list[str | None], module: str) -> None:
    seen: set[str] = set()
    repeated: set[str] = set()
    for key in keys:
        if key is None:
            continue
        (repeated if key in seen else seen).add(key)
    if repeated:
        shown = sorted(repeated)[:5]
        raise PreflightError(module, [f"parent keys repeat, so children are ambiguous: {shown}"])


def merge_batches(
    reports: Sequence[ParentChildReport],
    plan: Sequence[Batch],
    orders: Sequence[np.ndarray],
    *,
    dry_run: bool,
) -> ParentChildReport:
    """One report over all batches, rows numbered by their positions in each source."""
    modules = reports[0].modules
    merged = ParentChildReport(modules=modules)
    for j, module in enumerate(modules):
        where = [orders[j][batch[j]] for batch in plan]
        merged.issues[module] = _renumbered([r.issues[module] for r in reports], where)
        if dry_run:
            merged.counts[module] = {
                name: sum(r.counts[module][name] for r in reports)
                for name in ("rows", "valid", "rejected")
            }
            continue
        merged.results[module] = _renumbered([r.results[module] for r in reports], where)
        merged.counts[module] = summarize(merged.results[module])
    merged.job_id = ",".join(str(r.job_id) for r in reports)
    merged.failure = "; ".join(r.failure for r in reports if r.failure) or None
    return merged


def _renumbered(parts: Sequence[pa.Table], where: Sequence[np.ndarray]) -> pa.Table:
    """Tables with a ``row`` column relative to their batch, renumbered and merged."""
    out = []
    for part, positions in zip(parts, where, strict=True):
        rows = positions[part.column("row").to_numpy()]
        column = part.schema.get_field_index("row")
        out.append(part.set_column(column, "row", pa.array(rows, pa.int64())))
    return pa.concat_tables(out).sort_by("row")
