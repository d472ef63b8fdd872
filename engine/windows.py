"""Windows of a field that a bulk read loads one at a time: backfill and partitioned exports.

A window is a half-open ``[start, end)`` range of one date-time field (``planning.Window``).
Two kinds use the same mechanism (``backfill.backfill_window``: one ledger extract per window,
split in two when its first page reports more records than one page holds):

- a **backfill** window ranges over ``Modified_Time``; once loaded, it is never read again;
- a **partition** of a full export ranges over ``Created_Time`` (which never changes, so a
  record sits in exactly one window for the whole export). The windows are sized from the
  record distribution of the module's last export, so each fits one bulk page; the first starts
  at ``EARLIEST`` and the last is open-ended (``OPEN_END``: no upper bound in the criteria), so
  a record created while the export runs is read by the last window. A partition belongs to one
  export run: a window loaded by an earlier export is read again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.ledger import to_naive_utc
from engine.planning import MIN_WINDOW, Window
from transforms.lake.reading import column_names, read_arrow

if TYPE_CHECKING:
    from engine.ledger import ExtractRecord, Ledger
    from engine.settings import RunSettings

#: the first partition's start: before any record Zoho can hold
EARLIEST = datetime(1970, 1, 1)
#: the last partition's end: stored in the ledger, never sent to Zoho (no upper bound)
OPEN_END = datetime(9999, 12, 31)
PARTITION_FIELD = "Created_Time"
#: how far up the ``parent_id`` chain a window's extract may sit below its export
MAX_SPLIT_DEPTH = 64


@dataclass(frozen=True)
class WindowKind:
    """What a window ranges over and whom it belongs to.

    ``root_id`` is the export extract a partition window belongs to; a loaded (or split)
    window of another root is not this run's. A backfill has no root: a loaded window is done.
    """

    kind: str = "backfill"
    field: str = "Modified_Time"
    root_id: str | None = None

    def describe(self, window: Window) -> str:
        what = "backfill window" if self.kind == "backfill" else f"{self.field} window"
        return f"{what} {label(window)}"


BACKFILL = WindowKind()


def partition_kind(root_id: str) -> WindowKind:
    return WindowKind(kind="partition", field=PARTITION_FIELD, root_id=root_id)


def is_open(window: Window) -> bool:
    return window.end >= OPEN_END


def label(window: Window) -> str:
    """``start..end`` with ``open`` for an open-ended window."""
    if not is_open(window):
        return window.label()
    return f"{window.start:%Y-%m-%dT%H:%M:%S}..open"


def split(window: Window, now: datetime) -> tuple[Window, Window] | None:
    """Two halves of a window that overflowed one page, or None if it cannot shrink.

    An open-ended window splits at the middle of ``[start, now)``; its upper half stays open.
    """
    end = to_naive_utc(now) if is_open(window) else window.end
    if end - window.start < 2 * MIN_WINDOW:
        return None
    middle = (window.start + (end - window.start) / 2).replace(microsecond=0)
    return Window(window.start, middle), Window(middle, window.end)


def belongs(ledger: Ledger, extract: ExtractRecord, kind: WindowKind) -> bool:
    """Whether a window's extract is part of ``kind``'s run (always, for a backfill)."""
    if kind.root_id is None:
        return True
    current: ExtractRecord | None = extract
    for _ in range(MAX_SPLIT_DEPTH):
        if current is None or current.parent_id is None:
            return False
        if current.parent_id == kind.root_id:
            return True
        current = ledger.get_extract(current.parent_id)
    return False


# ---- planning a partition -----------------------------------------------------------------


def plan_partition(created: pa.Array, per_page: int) -> list[Window]:
    """Windows of ``Created_Time`` holding at most ``per_page`` of ``created`` each.

    As many windows as pages a serial export needs (``ceil(n / per_page)``, so the credits are
    the same), cut at the distribution's quantiles to the second; the first starts at
    ``EARLIEST``, the last is open-ended. Equal times never straddle a cut (closed on the left).
    """
    if per_page < 1:
        raise ValueError(f"per_page must be >= 1, got {per_page}")
    times = sorted(
        to_naive_utc(t).replace(microsecond=0) for t in created.to_pylist() if t is not None
    )
    count = math.ceil(len(times) / per_page) if times else 1
    size = math.ceil(len(times) / count) if times else 0
    cuts: list[datetime] = []
    for i in range(1, count):
        cut = times[i * size]
        if (cuts and cut <= cuts[-1]) or cut <= EARLIEST:
            continue
        cuts.append(cut)
    bounds = [EARLIEST, *cuts, OPEN_END]
    return [Window(a, b) for a, b in pairwise(bounds)]


def previous_times(
    settings: RunSettings, product: str, module: str, field: str = PARTITION_FIELD
) -> pa.Array | None:
    """``field`` of every record the module's earlier runs exported, one value per id (the
    newest, for a field that changes), naive UTC; None when nothing was exported yet. Read
    from the module's lake table, else (no lake table yet) from the landing Parquet."""
    table = _lake_columns(settings, product, module, field)
    if table is None:
        table = _landing_columns(settings.parquet_root, product, module, field)
    if table is None or table.num_rows == 0:
        return None
    table = table.group_by("id").aggregate([(field, "max")])
    values = pc.drop_null(table[f"{field}_max"]).combine_chunks()
    return values.cast(pa.timestamp("us"))  # a UTC timestamp, without its zone


def _lake_columns(settings: RunSettings, product: str, module: str, field: str) -> pa.Table | None:
    from engine.lake import open_lake_table

    lake = open_lake_table(settings, product, module)
    if not lake.exists:
        return None
    table = lake.delta_table()
    if not {"id", field} <= set(column_names(table)):
        return None
    return read_arrow(table, ["id", field])


def _landing_columns(parquet_root: Path, product: str, module: str, field: str) -> pa.Table | None:
    root = parquet_root / product / module
    files = sorted(root.glob("*/run=*/*.parquet")) if root.exists() else []
    tables = []
    for path in files:
        schema = pq.read_schema(path)
        if "id" in schema.names and field in schema.names:
            tables.append(pq.read_table(path, columns=["id", field]))
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def previous_created_times(settings: RunSettings, product: str, module: str) -> pa.Array | None:
    """``Created_Time`` of every record the module's earlier runs exported (see above)."""
    return previous_times(settings, product, module, PARTITION_FIELD)


def count_in(values: pa.Array, start: datetime, end: datetime | None = None) -> int:
    """How many ``values`` (naive UTC timestamps) lie in ``[start, end)`` (no end: open)."""
    stamp = pa.timestamp("us")
    mask = pc.greater_equal(values, pa.scalar(to_naive_utc(start), stamp))
    if end is not None and end < OPEN_END:
        mask = pc.and_(mask, pc.less(values, pa.scalar(to_naive_utc(end), stamp)))
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


def modified_before(records: list[Mapping[str, Any]], end: datetime) -> list[Mapping[str, Any]]:
    """REST records whose ``Modified_Time`` (ISO 8601 with offset) is before ``end``."""
    limit = to_naive_utc(end)
    kept = []
    for record in records:
        text = record.get("Modified_Time")
        if isinstance(text, str) and to_naive_utc(datetime.fromisoformat(text)) < limit:
            kept.append(record)
    return kept


# ---- the plan in the export extract's query -------------------------------------------------


def plan_to_state(windows: list[Window]) -> dict[str, Any]:
    return {
        "field": PARTITION_FIELD,
        "windows": [[w.start.isoformat(), w.end.isoformat()] for w in windows],
    }


def plan_from_state(state: dict[str, Any] | None) -> list[Window] | None:
    """The windows an export extract's query holds (None: not a partitioned export)."""
    if not state:
        return None
    return [
        Window(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in state["windows"]
    ]
