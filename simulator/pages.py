"""Writing one bulk-read page: scan a ``RecordStore`` in chunks, filter, write a zipped CSV.

The CSV is written chunk by chunk straight into the zip entry on disk (``pyarrow.csv``:
UTF-8, RFC-4180 quoting, header = requested fields in order with ``id`` first when not
requested), so memory stays flat whatever the page size. ``PageOutcome.next_slot`` is the
record index where the next matching record starts: a page token stores it, so later pages
never rescan from the start.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from simulator.criteria import Condition, Group
from simulator.store import INDEX, RecordStore

Predicate = Callable[[pa.Table], pa.Array]


@dataclass(frozen=True)
class PageOutcome:
    count: int
    more_records: bool
    next_slot: int | None  # index of the first matching record after this page


def csv_columns(fields: list[str]) -> list[str]:
    return fields if "id" in fields else ["id", *fields]


class PageScan:
    """Iterate the tables of one page: matches from ``start_slot``, after ``skip`` matches,
    at most ``limit`` rows. After iteration ``next_slot`` is the next match's index or None.
    """

    def __init__(
        self,
        store: RecordStore,
        fields: list[str],
        predicate: Predicate | None,
        start_slot: int,
        skip: int,
        limit: int,
        predicate_fields: list[str] | None = None,
    ) -> None:
        self._store = store
        self._fields = fields
        self._predicate = predicate
        self._predicate_fields = predicate_fields
        self._start = start_slot
        self._skip = skip
        self._limit = limit
        self.count = 0
        self.next_slot: int | None = None

    def _skip_ahead(self) -> tuple[int | None, int]:
        """Find where the page starts reading only the predicate's columns (cheap).

        Returns (slot of the first record of the page or None, matches still to skip).
        """
        skip = self._skip
        if not skip or self._predicate_fields is None:
            return self._start, skip
        for chunk in self._store.iter_chunks(self._predicate_fields, self._start):
            matches = chunk.filter(self._predicate(chunk)) if self._predicate else chunk
            if matches.num_rows > skip:
                return int(matches[INDEX][skip].as_py()), 0
            skip -= matches.num_rows
        return None, 0

    def _chunks(self, start: int) -> Iterator[pa.Table]:
        """The chunks from ``start``; with a predicate, each holds only the records whose
        predicate columns (generated first, cheap) may match, so the page's other columns are
        generated for those alone (a window of a big module does not generate all of it)."""
        if self._predicate is None or self._predicate_fields is None:
            yield from self._store.iter_chunks(self._fields, start)
            return
        for low, high in self._store.chunk_ranges(start):
            probe = self._store.chunk_of(self._predicate_fields, low, high)
            hits = probe.filter(self._predicate(probe))[INDEX].to_numpy()
            if len(hits):
                yield self._store.chunk_of(self._fields, low, high, hits)

    def __iter__(self) -> Iterator[pa.Table]:
        start, skip = self._skip_ahead()
        if start is None:
            return
        for chunk in self._chunks(start):
            matches = chunk.filter(self._predicate(chunk)) if self._predicate else chunk
            if skip:
                dropped = min(skip, matches.num_rows)
                matches = matches.slice(dropped)
                skip -= dropped
            if not matches.num_rows:
                continue
            take = min(self._limit - self.count, matches.num_rows)
            if take:
                self.count += take
                yield matches.slice(0, take)
            if matches.num_rows > take:
                self.next_slot = int(matches[INDEX][take].as_py())
                return


def write_page(
    store: RecordStore,
    fields: list[str],
    criteria: Condition | Group | None,
    start_slot: int,
    skip: int,
    per_page: int,
    zip_path: Path,
    csv_name: str,
    compresslevel: int = 1,
) -> PageOutcome:
    """Write the page starting after ``skip`` matches from ``start_slot`` into ``zip_path``."""
    columns = csv_columns(fields)
    needed = list(dict.fromkeys([*columns, *sorted(criteria.fields() if criteria else ())]))
    schema = pa.schema([(name, pa.string()) for name in columns])
    predicate_fields = sorted(criteria.fields()) if criteria else []
    scan = PageScan(
        store,
        needed,
        criteria.mask if criteria else None,
        start_slot,
        skip,
        per_page,
        predicate_fields,
    )
    with (
        zipfile.ZipFile(
            zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        ) as archive,
        archive.open(csv_name, "w", force_zip64=True) as entry,
    ):
        sink = pa.PythonFile(entry, mode="w")
        with pa_csv.CSVWriter(sink, schema) as writer:
            for table in scan:
                writer.write_table(table.select(columns).cast(schema))
        sink.close()
    return PageOutcome(scan.count, scan.next_slot is not None, scan.next_slot)
