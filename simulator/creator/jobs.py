"""Bulk read jobs: a slice of a report's matching records, written as a zip with one CSV.

A job covers up to ``max_records`` matching records from ``start_index`` on. It is "in
progress" until ``created_at + processing_seconds`` on the simulator clock; its result (count,
zip, and the cursor of the next batch when records remain) is built on first use after that,
so jobs cost nothing until read. The cursor lives ``cursor_ttl`` (15 min) from the job's end;
the result is kept ``result_retention`` (24 h).

CSV layout (UNCERTAIN at Zoho, configurable in ``CreatorConfig``): UTF-8, a header of link
names starting with ``ID``, dates in the app format, a multi-select joined with ``,`` in one
quoted cell, a lookup as its display value (or its ID).
"""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from simulator.creator.criteria import Node
from simulator.creator.store import INDEX, FormStore


@dataclass(frozen=True)
class BulkQuery:
    """What a job (and every job chained from it by cursor) reads."""

    org_key: str
    owner: str
    app: str
    report: str
    form: str
    fields: tuple[str, ...]
    criteria_text: str | None
    criteria: Node | None = field(compare=False)
    max_records: int


@dataclass(frozen=True)
class BulkCursor:
    query: BulkQuery
    start_index: int
    expires_at: float


@dataclass(frozen=True)
class RecordsCursor:
    """Where the next Get Records page starts (lifetime UNCERTAIN at Zoho: configurable)."""

    where: tuple[str, str, str]  # org, app, report
    criteria_text: str | None
    fields: tuple[str, ...]
    start_index: int
    expires_at: float


@dataclass
class BulkJob:
    id: str
    query: BulkQuery
    start_index: int
    created_at: float
    processing_seconds: float
    will_fail: bool
    created_by: str
    created_time: str
    zip_path: Path
    count: int | None = None
    next_index: int | None = None
    cursor: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ends_at(self) -> float:
        return self.created_at + self.processing_seconds

    def finished(self, now: float) -> bool:
        return now >= self.ends_at


def csv_table(store: FormStore, table: pa.Table, lookup_as: str, separator: str) -> pa.Table:
    """The CSV columns of scanned records: lookups and multi-selects rendered."""
    columns: dict[str, pa.Array] = {}
    for name in table.column_names:
        if name == INDEX:
            continue
        values = table[name].combine_chunks()
        spec = store.form.field(name)
        if spec is not None and spec.is_lookup and lookup_as == "display":
            values = store.display_values(name, values)
        elif spec is not None and spec.kind == "multi" and separator != ",":
            values = pc.replace_substring(values, ",", separator)
        columns[name] = values
    return pa.table(columns)


def csv_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue()


def write_zip(table: pa.Table, path: Path, member: str) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(member, csv_bytes(table))
