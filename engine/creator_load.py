"""One Creator page (a bulk read zip, or Get Records JSON) into the warehouse table and its
landing Parquet (what `engine.lake` commits into the report's lake table).

Raw values become typed columns with ``transforms.creator`` (the app's date format and time
zone, lookups as ``__ID`` / ``__display``, multi-select as ``list<string>``); ``ID`` becomes
the warehouse key ``id`` and the page gets the metadata columns every table has
(``_zoho_module``, ``_zoho_job_id``, ``_extracted_at``). Values that do not convert go to a
rejects CSV (job, row, ID, column, value, reason) and their rows are left out, as for CRM.
The warehouse's own load plans drift and merges on ``id`` (newest ``Modified_Time`` wins).
With a ``landing`` root, every typed batch is also written (its own thread, as for CRM pages)
to ``{landing}/creator/{table}/extracted_date=…/run={job id}/``; the files are committed only
when the whole page was read and loaded.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms.convert import ConvertedBatch
from transforms.creator import (
    ID,
    JSON_MULTI_SEPARATOR,
    CreatorSchema,
    convert_creator_batch,
    csv_lookups,
    records_batch,
)
from transforms.drift import DriftPolicy
from transforms.parquet import BackgroundPageWriter, open_page_writer
from transforms.schema import (
    EXTRACTED_AT_COLUMN,
    ID_COLUMN,
    JOB_ID_COLUMN,
    MODULE_COLUMN,
    UTC_TIMESTAMP,
    VERSION_COLUMN,
)
from transforms.warehouse import MergeResult, Warehouse

CSV_BLOCK_SIZE = 8 << 20
REJECT_HEADER = ("job_id", "row", "ID", "column", "value", "reason")


def warehouse_schema(schema: CreatorSchema) -> pa.Schema:
    """The table's columns: the typed report columns (``ID`` as ``id``) + metadata."""
    fields = [pa.field(ID_COLUMN if f.name == ID else f.name, f.type) for f in schema.arrow_schema]
    fields += [
        pa.field(MODULE_COLUMN, pa.string()),
        pa.field(JOB_ID_COLUMN, pa.string()),
        pa.field(EXTRACTED_AT_COLUMN, UTC_TIMESTAMP),
    ]
    return pa.schema(fields)


@dataclass
class PageLoad:
    """What loading one page did (rows read = loaded + rejected)."""

    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejects_path: Path | None = None
    drift: dict[str, Any] | None = None
    #: the newest ``Modified_Time`` loaded and the ids carrying it (the watermark)
    newest: datetime | None = None
    newest_ids: list[str] = field(default_factory=list)
    last_id: str | None = None
    #: the page's landing Parquet files (empty without a landing root)
    landing_files: tuple[Path, ...] = ()


class PageLoader:
    """Types the batches of one page and feeds them to ``Warehouse.load``."""

    def __init__(
        self,
        schema: CreatorSchema,
        *,
        module: str,
        job_id: str,
        extracted_at: datetime,
        rejects_path: Path,
    ) -> None:
        self.schema = schema
        self.module = module
        self.job_id = job_id
        self.extracted_at = extracted_at
        self.rejects_path = rejects_path
        self.result = PageLoad()
        self._rejects: list[tuple[object, ...]] = []

    def load(
        self, warehouse: Warehouse, table: str, raw: Iterable[tuple[pa.RecordBatch, str]],
        policy: DriftPolicy, *, landing: Path | None = None, product: str = "creator",
    ) -> PageLoad:  # fmt: skip
        """``raw``: (string batch, multi-select separator) pairs of the page, in order;
        ``landing``: the Parquet root the page's landing files go under (none: not written)."""
        schema = warehouse_schema(self.schema)
        writer = None
        if landing is not None:
            writer = BackgroundPageWriter(
                open_page_writer(
                    landing, product=product, module=table, extracted_at=self.extracted_at,
                    run_id=self.job_id, file_stem=self.job_id, schema=schema,
                )
            )  # fmt: skip
        try:
            merge: MergeResult = warehouse.load(
                table, schema, self._typed(raw, writer), policy=policy
            )
            if writer is not None:
                self.result.landing_files = writer.commit()
                writer = None
        finally:
            if writer is not None:
                writer.abort()
        self.result.drift = merge.drift.to_dict() if merge.drift.changed else None
        if self._rejects:
            self.rejects_path.parent.mkdir(parents=True, exist_ok=True)
            with self.rejects_path.open("w", newline="", encoding="utf-8") as out:
                writer_csv = csv.writer(out)
                writer_csv.writerow(REJECT_HEADER)
                writer_csv.writerows(self._rejects)
            self.result.rejects_path = self.rejects_path
        return self.result

    def _typed(
        self, raw: Iterable[tuple[pa.RecordBatch, str]], writer: BackgroundPageWriter | None
    ) -> Iterator[pa.RecordBatch]:
        for batch, separator in raw:
            if not batch.num_rows:
                continue
            converted = convert_creator_batch(batch, self.schema, multi_separator=separator)
            self._note_rejects(batch, converted)
            typed = self._finish(converted.batch)
            if writer is not None:
                writer.write(typed)
            yield typed
        if writer is not None:
            writer.finish()  # the last row group is written while the warehouse finishes

    def _note_rejects(self, raw: pa.RecordBatch, converted: ConvertedBatch) -> None:
        offset = self.result.rows_read
        self.result.rows_read += raw.num_rows
        self.result.rows_rejected += len(converted.rejected_rows)
        if not converted.failures:
            return
        ids = raw.column(ID).to_pylist()
        for failure in converted.failures:
            self._rejects.append(
                (
                    self.job_id,
                    offset + failure.row + 1,
                    ids[failure.row],
                    failure.column,
                    failure.raw_value,
                    failure.reason,
                )
            )

    def _finish(self, typed: pa.RecordBatch) -> pa.RecordBatch:
        rows = typed.num_rows
        self.result.rows_loaded += rows
        names = [ID_COLUMN if n == ID else n for n in typed.schema.names]
        columns = [*typed.columns]
        columns += [
            pa.repeat(pa.scalar(self.module, pa.string()), rows),
            pa.repeat(pa.scalar(self.job_id, pa.string()), rows),
            pa.repeat(pa.scalar(self.extracted_at, UTC_TIMESTAMP), rows),
        ]
        names += [MODULE_COLUMN, JOB_ID_COLUMN, EXTRACTED_AT_COLUMN]
        out = pa.RecordBatch.from_arrays(columns, names=names)
        if rows:
            self._track_newest(out)
        return out

    def _track_newest(self, batch: pa.RecordBatch) -> None:
        ids = batch.column(ID_COLUMN)
        self.result.last_id = ids[batch.num_rows - 1].as_py()
        stamps = batch.column(VERSION_COLUMN)
        newest = pc.max(stamps).as_py()
        if newest is None:
            return
        current = self.result.newest
        if current is None or newest > current:
            self.result.newest, self.result.newest_ids = newest, []
        if newest == self.result.newest:
            mask = pc.fill_null(pc.equal(stamps, pa.scalar(newest, UTC_TIMESTAMP)), False)
            self.result.newest_ids += [str(i) for i in pc.filter(ids, mask).to_pylist()]


def csv_batches(
    zip_path: Path, schema: CreatorSchema, separator: str = ","
) -> Iterator[tuple[pa.RecordBatch, str]]:
    """A bulk read zip's CSV as string batches shaped like ``schema``'s sources."""
    with zipfile.ZipFile(zip_path) as archive:
        (name,) = archive.namelist()
        with archive.open(name) as raw:
            header = next(csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")), [])
        if not header:
            return
        with archive.open(name) as raw:
            reader = pacsv.open_csv(
                raw,
                read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_SIZE, encoding="utf-8"),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                yield csv_lookups(_strip_bom(batch), schema), separator


def _strip_bom(batch: pa.RecordBatch) -> pa.RecordBatch:
    names = [n.lstrip("\ufeff") for n in batch.schema.names]
    return pa.RecordBatch.from_arrays(batch.columns, names=names)


def json_batches(
    pages: Iterable[Sequence[Mapping[str, Any]]], schema: CreatorSchema
) -> Iterator[tuple[pa.RecordBatch, str]]:
    """Get Records pages as string batches (multi-select joined with a unit separator)."""
    for records in pages:
        if records:
            yield records_batch(records, schema), JSON_MULTI_SEPARATOR
