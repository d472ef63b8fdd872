"""Stream a bulk-read CSV straight out of its zip as typed Arrow record batches.

``pyarrow.csv.open_csv`` reads the zip member block by block (memory stays bounded by the
block size whatever the file size), every column as ``string``; `transforms.convert` casts
each batch to the page's types. Ragged rows (more or fewer fields than the header) are caught
by pyarrow's invalid-row handler, unconvertible values by the converter: both go to the
`RejectsCollector` and the stream carries on. `ReadCounts` always reconciles:
``rows_read == rows_loaded + rows_rejected``.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import queue
import threading
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv

from transforms.convert import ConvertedBatch, convert_batch
from transforms.errors import CsvFormatError
from transforms.rejects import RejectsCollector, text_stream
from transforms.schema import (
    EXTRACTED_AT_COLUMN,
    JOB_ID_COLUMN,
    MODULE_COLUMN,
    UTC_TIMESTAMP,
    PageSchema,
)

DEFAULT_BLOCK_SIZE = 8 << 20  # bytes of CSV per batch: ~50k-100k Zoho rows
DEFAULT_PREFETCH_BATCHES = 2


@dataclass
class ReadCounts:
    """Row accounting of one page."""

    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_rejected


class BulkCsv:
    """A downloaded bulk-read zip holding one CSV: its header and a typed batch stream."""

    def __init__(
        self,
        zip_path: Path,
        block_size: int = DEFAULT_BLOCK_SIZE,
        prefetch_batches: int = DEFAULT_PREFETCH_BATCHES,
    ) -> None:
        self.zip_path = Path(zip_path)
        self.block_size = block_size
        self.prefetch_batches = prefetch_batches
        self.member = _csv_member(self.zip_path)
        self.counts = ReadCounts()
        with self.open_text() as text:
            try:
                first = next(csv.reader(text), [])
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CsvFormatError(str(self.zip_path), f"unreadable header ({exc})") from exc
        self.header: tuple[str, ...] = tuple(first)

    @property
    def label(self) -> str:
        """How rejects name this file: ``{zip name}:{member}``."""
        return f"{self.zip_path.name}:{self.member}"

    def open_binary(self) -> IO[bytes]:
        # The member stream keeps the archive's file open after the archive is closed
        # (zipfile reference-counts it), so closing the stream releases everything.
        with zipfile.ZipFile(self.zip_path) as archive:
            return archive.open(self.member)

    def open_text(self) -> IO[str]:
        return text_stream(self.open_binary())

    def iter_batches(
        self,
        schema: PageSchema,
        *,
        module: str,
        job_id: str,
        extracted_at: datetime,
        rejects: RejectsCollector,
    ) -> Generator[pa.RecordBatch, None, None]:
        """Yield typed batches (data columns + metadata columns) and feed ``rejects``."""
        if not self.header:
            return
        ragged: list[int] = []  # data record numbers of ragged rows, sorted
        counts = self.counts
        lock = threading.Lock()  # the handler runs in the parsing thread

        def on_invalid_row(row: pacsv.InvalidRow) -> str:
            record = None if row.number is None else row.number - 1
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            with lock:
                if record is not None:
                    bisect.insort(ragged, record)
                counts.rows_read += 1
                counts.rows_rejected += 1
                rejects.add(record, None, row.text, reason)
            return "skip"

        stamp = pa.scalar(extracted_at.astimezone(UTC), UTC_TIMESTAMP)
        valid_rows = 0
        with self.open_binary() as stream:
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(block_size=self.block_size, use_threads=False),
                    parse_options=pacsv.ParseOptions(
                        newlines_in_values=True, invalid_row_handler=on_invalid_row
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types={name: pa.string() for name in self.header},
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=True,
                        null_values=[""],
                    ),
                )
                with contextlib.closing(prefetch(reader, self.prefetch_batches)) as raws:
                    for raw in raws:
                        converted = convert_batch(raw, schema)
                        with lock:
                            self._account(converted, valid_rows, ragged, rejects)
                        valid_rows += raw.num_rows
                        if converted.batch.num_rows:
                            yield _with_metadata(converted.batch, module, job_id, stamp)
            except pa.ArrowInvalid as exc:
                raise CsvFormatError(self.label, f"CSV parse error ({exc})") from exc

    def _account(
        self,
        converted: ConvertedBatch,
        valid_rows: int,
        ragged: list[int],
        rejects: RejectsCollector,
    ) -> None:
        """Count one converted batch and report its failing values (caller holds the lock)."""
        for failure in converted.failures:
            record = _record_number(valid_rows + failure.row, ragged)
            rejects.add(record, failure.column, failure.raw_value, failure.reason)
        rows = converted.batch.num_rows + len(converted.rejected_rows)
        self.counts.rows_read += rows
        self.counts.rows_rejected += len(converted.rejected_rows)
        self.counts.rows_loaded += converted.batch.num_rows


def prefetch(reader: pacsv.CSVStreamingReader, depth: int) -> Generator[pa.RecordBatch, None, None]:
    """Read batches in a background thread, at most ``depth`` ahead of the consumer.

    Decompressing and parsing release the GIL, so on two cores the next block is parsed
    while this one is converted and written. Memory grows by at most ``depth`` batches.
    Errors in the reading thread are raised here; stopping early stops the thread.
    """
    if depth <= 0:
        yield from reader
        return
    slots: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: pa.RecordBatch | BaseException | None = None
        except BaseException as exc:  # handed to the consumer, raised there
            item = exc
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=produce, name="csv-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _record_number(valid_index: int, ragged: list[int]) -> int:
    """1-based data record number of the ``valid_index``-th (0-based) well-formed row."""
    record = valid_index + 1
    for skipped in ragged:
        if skipped > record:
            break
        record += 1
    return record


def _with_metadata(
    batch: pa.RecordBatch, module: str, job_id: str, stamp: pa.Scalar
) -> pa.RecordBatch:
    rows = batch.num_rows
    extra = [
        pa.nulls(rows, pa.string()).fill_null(module),
        pa.nulls(rows, pa.string()).fill_null(job_id),
        pa.nulls(rows, UTC_TIMESTAMP).fill_null(stamp),
    ]
    names = [*batch.schema.names, MODULE_COLUMN, JOB_ID_COLUMN, EXTRACTED_AT_COLUMN]
    return pa.RecordBatch.from_arrays([*batch.columns, *extra], names=names)


def _csv_member(zip_path: Path) -> str:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
    except (OSError, zipfile.BadZipFile) as exc:
        raise CsvFormatError(str(zip_path), f"not a readable zip ({type(exc).__name__})") from exc
    if not names:
        raise CsvFormatError(str(zip_path), "the zip holds no .csv file")
    preferred = f"{zip_path.stem}.csv"
    if preferred in names:
        return preferred
    if len(names) > 1:
        raise CsvFormatError(
            str(zip_path), f"the zip holds {len(names)} CSV files and none is {preferred}"
        )
    return names[0]
