"""``RecordStore``: the records of one module of one org, generated plus a sparse overlay.

Records ``0 .. generated_count-1`` come from ``ModuleGenerator`` by index; inserted records get
the next indices. A record's id is ``base_id + index``, so ``get(id)`` is O(1). Updates and
inserts are kept as full rows (string cell values) in an overlay dict, deletes in a dict of
``DeletedRecord``. ``iter_chunks`` yields pyarrow tables (``__index``, ``id`` and the asked
fields, dotted lookup fields such as ``Account_Name.Account_Name`` or ``Owner.last_name``
resolved) with the overlay applied, never materialising the whole module.

The bulk-write simulator uses the same store (``find``, ``insert``, ``update``, ``delete``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.clock import SimClock, format_time
from simulator.generator import ModuleGenerator, User, user_attribute
from simulator.schema import ModuleSchema

INDEX = "__index"
Row = dict[str, str | None]


@dataclass(frozen=True)
class DeletedRecord:
    id: str
    display_name: str | None
    deleted_time: float
    deleted_by: User
    created_by: str | None


class RecordStore:
    """Records of one org's module; thread-safe."""

    def __init__(
        self,
        generator: ModuleGenerator,
        generated_count: int,
        clock: SimClock,
        parent_store: Callable[[str], RecordStore | None],
        chunk_size: int = 50_000,
    ) -> None:
        self._gen = generator
        self.generated_count = generated_count
        self._clock = clock
        self._parent_store = parent_store
        self.chunk_size = chunk_size
        self._lock = threading.RLock()
        self._rows: dict[int, Row] = {}  # updated and inserted records (full rows)
        self._deleted: dict[int, DeletedRecord] = {}
        self._next_index = generated_count

    # -- identity -----------------------------------------------------------------------
    @property
    def schema(self) -> ModuleSchema:
        return self._gen.schema

    def set_schema(self, schema: ModuleSchema) -> None:
        """Schema drift: later reads generate and report the new field list."""
        with self._lock:
            self._gen.schema = schema

    @property
    def module(self) -> str:
        return self._gen.schema.module

    @property
    def base_id(self) -> int:
        return self._gen.base_id

    @property
    def users(self) -> list[User]:
        return self._gen.users

    def index_of(self, record_id: str) -> int | None:
        try:
            index = int(record_id) - self.base_id
        except ValueError:
            return None
        with self._lock:
            if 0 <= index < self._next_index and index not in self._deleted:
                if index >= self.generated_count and index not in self._rows:
                    return None
                return index
        return None

    @property
    def slot_count(self) -> int:
        """Indices to scan: generated plus inserted (deleted ones are skipped when read)."""
        with self._lock:
            return self._next_index

    def __len__(self) -> int:
        with self._lock:
            return self._next_index - len(self._deleted) - self._inserted_gaps()

    def _inserted_gaps(self) -> int:
        return sum(
            1
            for i in range(self.generated_count, self._next_index)
            if i not in self._rows and i not in self._deleted
        )

    # -- single records -----------------------------------------------------------------
    def get(self, record_id: str) -> Row | None:
        """All fields of one live record (strings; None = empty), with its ``id``."""
        index = self.index_of(record_id)
        if index is None:
            return None
        return self._row(index)

    def _row(self, index: int) -> Row:
        with self._lock:
            if index in self._rows:
                row = dict(self._rows[index])
            else:
                idx = np.array([index], dtype=np.int64)
                row = {f.api_name: self._gen.column(f, idx)[0].as_py() for f in self.schema.fields}
        row["id"] = str(self.base_id + index)
        return row

    def find(self, field: str, value: str) -> list[str]:
        """Ids of live records whose ``field`` equals ``value`` (a scan, in chunks)."""
        found: list[str] = []
        for chunk in self.iter_chunks([field]):
            hits = chunk.filter(pc.equal(chunk[field], value))
            found.extend(hits["id"].to_pylist())
        return found

    def insert(self, values: Mapping[str, str | None]) -> str:
        """Add a record; audit fields and the owner default to now / the API user."""
        self._check_fields(values)
        now = format_time(self._clock.now(), self._gen.org.utc_offset_minutes)
        api_user = self.users[0].id
        row: Row = dict.fromkeys(self.schema.names)
        for f in self.schema.fields:
            if f.data_type == "ownerlookup":
                row[f.api_name] = api_user
        row.update({"Created_Time": now, "Modified_Time": now})
        row.update(values)
        with self._lock:
            index = self._next_index
            self._next_index += 1
            self._rows[index] = row
        return str(self.base_id + index)

    def update(self, record_id: str, values: Mapping[str, str | None]) -> None:
        """Change fields of a live record; ``Modified_Time`` becomes now."""
        self._check_fields(values)
        index = self.index_of(record_id)
        if index is None:
            raise KeyError(f"{self.module} has no record {record_id}")
        row = self._row(index)
        row.pop("id", None)
        row.update(values)
        if "Modified_Time" not in values:
            row["Modified_Time"] = format_time(self._clock.now(), self._gen.org.utc_offset_minutes)
        if "Modified_By" in row and "Modified_By" not in values:
            row["Modified_By"] = self.users[0].id
        with self._lock:
            self._rows[index] = row

    def delete(self, record_id: str) -> None:
        """Delete a live record (it then shows in ``deleted()``)."""
        index = self.index_of(record_id)
        if index is None:
            raise KeyError(f"{self.module} has no record {record_id}")
        row = self._row(index)
        display = row.get(self.schema.display_field)
        with self._lock:
            self._deleted[index] = DeletedRecord(
                id=record_id,
                display_name=display,
                deleted_time=self._clock.now(),
                deleted_by=self.users[0],
                created_by=row.get("Created_By"),
            )
            self._rows.pop(index, None)

    def deleted(self) -> list[DeletedRecord]:
        with self._lock:
            return sorted(self._deleted.values(), key=lambda d: (d.deleted_time, d.id))

    def _check_fields(self, values: Mapping[str, str | None]) -> None:
        unknown = sorted(set(values) - set(self.schema.names))
        if unknown:
            raise KeyError(f"{self.module} has no field(s) {', '.join(unknown)}")

    # -- columns ------------------------------------------------------------------------
    def values_at(self, field: str, indices: np.ndarray) -> pa.Array:
        """String values of a plain field for arbitrary record indices (overlay applied)."""
        spec = self.schema.field(field)
        if field == "id":
            return self._gen.ids(indices)
        if spec is None:
            return pa.nulls(len(indices), pa.string())
        values = self._gen.column(spec, indices)
        with self._lock:
            if not self._rows:
                return values
            overlay = np.fromiter(self._rows.keys(), dtype=np.int64, count=len(self._rows))
            hit = np.isin(indices, overlay)
            if not hit.any():
                return values
            patched = values.to_pylist()
            for pos in np.flatnonzero(hit):
                patched[pos] = self._rows[int(indices[pos])].get(field)
        return pa.array(patched, pa.string())

    def iter_chunks(self, fields: list[str], start: int = 0) -> Iterator[pa.Table]:
        """Tables of live records from index ``start`` on: ``__index``, ``id``, ``fields``."""
        for position, end in self.chunk_ranges(start):
            yield self._chunk(fields, position, end)

    def chunk_ranges(self, start: int = 0) -> Iterator[tuple[int, int]]:
        """``[start, end)`` index ranges of the chunks ``iter_chunks`` reads from ``start``."""
        position = start
        while True:
            end = min(position + self.chunk_size, self.slot_count)
            if position >= end:
                return
            yield position, end
            position = end

    def chunk_of(
        self, fields: list[str], start: int, end: int, only: np.ndarray | None = None
    ) -> pa.Table:
        """One chunk of ``iter_chunks``: the records of ``[start, end)``; with ``only``, just
        those at these indices (the others are never generated)."""
        return self._chunk(fields, start, end, only)

    def _chunk(
        self, fields: list[str], start: int, end: int, only: np.ndarray | None = None
    ) -> pa.Table:
        idx = np.arange(start, end, dtype=np.int64) if only is None else np.asarray(only)
        with self._lock:
            skip = [i for i in self._deleted if start <= i < end]
            skip.extend(i for i in self._rows if start <= i < end)
            # inserted-but-never-written slots do not exist; generated ones always do
            keep = idx[idx < self.generated_count]
            if skip:
                keep = keep[~np.isin(keep, np.array(skip, dtype=np.int64))]
            wanted = None if only is None else set(only.tolist())
            overlay = {
                i: self._rows[i]
                for i in sorted(self._rows)
                if start <= i < end and (wanted is None or i in wanted)
            }
        base = [f for f in fields if "." not in f and f != "id"]
        lookups = sorted({f.split(".", 1)[0] for f in fields if "." in f} - set(base))
        plain = base + lookups
        columns: dict[str, pa.Array] = {INDEX: pa.array(keep), "id": self._gen.ids(keep)}
        for name in plain:
            spec = self.schema.field(name)
            if spec is None:
                columns[name] = pa.nulls(len(keep), pa.string())
            else:
                columns[name] = self._gen.column(spec, keep)
        table = pa.table(columns)
        if overlay:
            extra = {
                INDEX: pa.array(list(overlay), pa.int64()),
                "id": pa.array([str(self.base_id + i) for i in overlay], pa.string()),
            }
            for name in plain:
                extra[name] = pa.array([row.get(name) for row in overlay.values()], pa.string())
            table = pa.concat_tables([table, pa.table(extra)]).sort_by(INDEX)
        for name in fields:
            if "." in name:
                table = table.append_column(name, self._dotted(table, name))
        keep_cols = [INDEX, "id", *[f for f in fields if f != "id"]]
        return table.select(keep_cols)

    def _dotted(self, table: pa.Table, name: str) -> pa.Array:
        lookup_name, parent_field = name.split(".", 1)
        spec = self.schema.field(lookup_name)
        ids = table[lookup_name].combine_chunks()
        if spec is None or not spec.is_lookup:
            return pa.nulls(len(ids), pa.string())
        if spec.data_type == "ownerlookup":
            users = self.users
            keys = pa.array([u.id for u in users])
            attribute = "id" if parent_field == "id" else parent_field
            values = pa.array(user_attribute(users, attribute), pa.string())
            return pc.take(values, pc.index_in(ids, value_set=keys))
        parent = self._parent_store(spec.lookup or "")
        if parent is None:
            return pa.nulls(len(ids), pa.string())
        if parent_field == "id":
            return ids
        numeric = pc.fill_null(pc.cast(ids, pa.int64()), parent.base_id)
        parent_idx = numeric.to_numpy(zero_copy_only=False) - parent.base_id
        values = parent.values_at(parent_field, parent_idx)
        return pc.if_else(pc.is_null(ids), pa.nulls(len(ids), pa.string()), values)
