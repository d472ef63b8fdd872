"""``FormStore``: the records of one form of one org's app, generated plus a sparse overlay.

Records ``0 .. generated-1`` come from ``FormValues`` by index; inserts take the next indices;
updates and inserts are full rows in an overlay, deletes a set of indices, so nothing is held
per record until it changes. ``scan`` walks the records in index (ID) order, in chunks, keeping
those a criteria selects, and says where the next scan starts: Get Records, Bulk Read and
Delete Records all use it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.clock import SimClock
from simulator.creator import model
from simulator.creator.criteria import FieldKinds, Node, comparisons, evaluate
from simulator.creator.values import FormValues

INDEX = "__index"
Row = dict[str, str | None]

_KIND_OF_TYPE: Mapping[int, str] = {
    model.NUMBER: "number",
    model.DECIMAL: "number",
    model.PERCENT: "number",
    model.CURRENCY: "number",
    model.DATE: "date",
    model.DATE_TIME: "datetime",
    model.MULTI_SELECT: "multi",
    model.DECISION_BOX: "decision",
}


@dataclass(frozen=True)
class Scan:
    """Matching records (``__index``, ``ID`` and the asked fields), in ID order."""

    table: pa.Table
    #: where a following scan starts (None: nothing after these)
    next_index: int | None
    #: whether a record after these matches too
    more: bool


class FormStore:
    """Records of one form; thread-safe."""

    def __init__(
        self,
        values: FormValues,
        generated: int,
        clock: SimClock,
        parent: Callable[[str], FormStore | None],
        chunk_size: int = 50_000,
    ) -> None:
        self.values = values
        self.generated = generated
        self._clock = clock
        self._parent = parent
        self.chunk_size = chunk_size
        self._lock = threading.RLock()
        self._rows: dict[int, Row] = {}
        self._deleted: set[int] = set()
        self._next_index = generated
        #: records that fail to delete (3001), e.g. held by a blueprint or an approval
        self.locked: set[str] = set()

    @property
    def form(self) -> model.CreatorForm:
        return self.values.form

    @property
    def columns(self) -> list[str]:
        return ["ID", *(f.link_name for f in self.form.fields), *model.SYSTEM_FIELDS]

    def field_kinds(self) -> FieldKinds:
        kinds = {"ID": "id", "Added_Time": "datetime", "Modified_Time": "datetime"}
        for f in self.form.fields:
            kinds[f.link_name] = "lookup" if f.is_lookup else _KIND_OF_TYPE.get(f.type, "text")
        app = self.values.app
        return FieldKinds(kinds, app.strftime_date, app.strftime_datetime)

    def __len__(self) -> int:
        with self._lock:
            inserted = sum(1 for i in self._rows if i >= self.generated)
            return self.generated + inserted - len(self._deleted)

    def index_of(self, record_id: str) -> int | None:
        try:
            index = int(record_id) - self.values.base_id
        except ValueError:
            return None
        with self._lock:
            live = 0 <= index < self._next_index and index not in self._deleted
            if live and (index < self.generated or index in self._rows):
                return index
        return None

    # -- changes --------------------------------------------------------------------------
    def _now_text(self) -> str:
        return self.values.format_epochs(np.array([int(self._clock.now())]))[0].as_py()

    def insert(self, values: Mapping[str, str | None]) -> str:
        self._check(values)
        now = self._now_text()
        row: Row = dict.fromkeys(self.columns)
        row.update({"Added_Time": now, "Modified_Time": now, **values})
        with self._lock:
            index = self._next_index
            self._next_index += 1
            row["ID"] = str(self.values.base_id + index)
            self._rows[index] = row
        return str(row["ID"])

    def update(self, record_id: str, values: Mapping[str, str | None]) -> None:
        """Change fields of a live record; ``Modified_Time`` becomes now (app format)."""
        self._check(values)
        index = self.index_of(record_id)
        if index is None:
            raise KeyError(f"{self.form.link_name} has no record {record_id}")
        row = self.row(index)
        row.update({"Modified_Time": self._now_text(), **values})
        with self._lock:
            self._rows[index] = row

    def delete(self, indices: Iterable[int]) -> None:
        with self._lock:
            for index in indices:
                self._deleted.add(int(index))
                self._rows.pop(int(index), None)

    def _check(self, values: Mapping[str, str | None]) -> None:
        unknown = sorted(set(values) - set(self.columns) - {"ID"})
        if unknown or "ID" in values:
            raise KeyError(f"{self.form.link_name} has no settable field(s) {unknown or ['ID']}")

    def row(self, index: int) -> Row:
        with self._lock:
            if index in self._rows:
                return dict(self._rows[index])
        idx = np.array([index], dtype=np.int64)
        return {name: self.values.column(name, idx)[0].as_py() for name in self.columns}

    # -- reading ------------------------------------------------------------------------
    def scan(
        self, criteria: Node | None, fields: list[str], start: int = 0, limit: int | None = None
    ) -> Scan:
        """Up to ``limit`` matching records from index ``start`` on."""
        needed = list(dict.fromkeys(["ID", *fields]))
        if criteria is not None:
            needed += [c.field for c in comparisons(criteria) if c.field not in needed]
        kinds = self.field_kinds()
        taken: list[pa.Table] = []
        count = 0
        # without a criteria every live record matches: generate little more than asked for
        step = self.chunk_size if criteria is not None or limit is None else limit + 1
        for chunk in self._chunks(needed, start, min(step, self.chunk_size)):
            if criteria is not None:
                chunk = chunk.filter(evaluate(criteria, chunk, kinds))
            if limit is not None and count + chunk.num_rows > limit:
                rest = limit - count
                taken.append(chunk.slice(0, rest))
                next_index = int(chunk[INDEX][rest].as_py())
                return Scan(self._select(taken, fields), next_index, True)
            if chunk.num_rows:
                taken.append(chunk)
                count += chunk.num_rows
            if limit is not None and count == limit:
                last = int(taken[-1][INDEX][-1].as_py())
                more = self._any_after(criteria, last + 1, kinds)
                return Scan(self._select(taken, fields), last + 1 if more else None, more)
        return Scan(self._select(taken, fields), None, False)

    def _any_after(self, criteria: Node | None, start: int, kinds: FieldKinds) -> bool:
        needed = ["ID"] + ([c.field for c in comparisons(criteria)] if criteria else [])
        for chunk in self._chunks(list(dict.fromkeys(needed)), start):
            hits = chunk if criteria is None else chunk.filter(evaluate(criteria, chunk, kinds))
            if hits.num_rows:
                return True
        return False

    def _select(self, tables: list[pa.Table], fields: list[str]) -> pa.Table:
        names = [INDEX, *dict.fromkeys(["ID", *fields])]
        if not tables:
            return pa.table(
                {n: pa.array([], pa.int64() if n == INDEX else pa.string()) for n in names}
            )
        return pa.concat_tables(tables).select(names)

    def _chunks(self, names: list[str], start: int, step: int | None = None) -> Iterator[pa.Table]:
        position = start
        while True:
            with self._lock:
                end = min(position + (step or self.chunk_size), self._next_index)
            if position >= end:
                return
            yield self._chunk(names, position, end)
            position = end

    def _chunk(self, names: list[str], start: int, end: int) -> pa.Table:
        idx = np.arange(start, min(end, self.generated), dtype=np.int64)
        with self._lock:
            skip = [i for i in self._deleted if start <= i < end]
            skip += [i for i in self._rows if start <= i < end]
            overlay = {i: dict(self._rows[i]) for i in sorted(self._rows) if start <= i < end}
        if skip and len(idx):
            idx = idx[~np.isin(idx, np.array(skip, dtype=np.int64))]
        columns = {INDEX: pa.array(idx, pa.int64())}
        columns.update({name: self.values.column(name, idx) for name in names})
        table = pa.table(columns)
        if overlay:
            extra = {INDEX: pa.array(list(overlay), pa.int64())}
            for name in names:
                extra[name] = pa.array([row.get(name) for row in overlay.values()], pa.string())
            table = pa.concat_tables([table, pa.table(extra)]).sort_by(INDEX)
        return table

    # -- lookups ------------------------------------------------------------------------
    def display_values(self, lookup_field: str, ids: pa.Array) -> pa.Array:
        """The display value of the parent records ``ids`` point to (null where none)."""
        spec = self.form.field(lookup_field)
        parent = self._parent(spec.lookup_form or "") if spec is not None else None
        if parent is None:
            return pa.nulls(len(ids), pa.string())
        base = parent.values.base_id
        numeric = pc.fill_null(pc.cast(ids, pa.int64()), base).to_numpy(zero_copy_only=False)
        values = parent.values.column(parent.form.display_field, numeric - base)
        with parent._lock:
            changed = {i: r.get(parent.form.display_field) for i, r in parent._rows.items()}
        if changed:
            texts = values.to_pylist()
            for pos, index in enumerate(numeric - base):
                if int(index) in changed:
                    texts[pos] = changed[int(index)]
            values = pa.array(texts, pa.string())
        return pc.if_else(pc.is_null(ids), pa.nulls(len(ids), pa.string()), values)
