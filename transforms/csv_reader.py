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
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.errors import CorruptZipError, ZipRejectedError
from connectors.zipcheck import open_member
from transforms.convert import ConvertedBatch, convert_batch
from transforms.errors import CsvFormatError, DamagedZipError
from transforms.rejects import RejectsCollector, text_stream
from transforms.schema import (
    EXTRACTED_AT_COLUMN,
    JOB_ID_COLUMN,
    MODULE_COLUMN,
    UTC_TIMESTAMP,
    PageSchema,
)

#: bytes of CSV per batch (~2,000 Zoho rows). Small blocks parse faster: pyarrow's parser
#: works in cache. Parquet buffers whole row groups, PostgreSQL streams one COPY, and the
#: shared staging protocol regroups batches (`transforms.warehouse.base.STAGE_BATCH_ROWS`).
DEFAULT_BLOCK_SIZE = 1 << 20
DEFAULT_PREFETCH_BATCHES = 4
T = TypeVar("T")


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
            except CorruptZipError as exc:
                raise DamagedZipError(str(self.zip_path), f"damaged zip ({exc})") from exc
            except (csv.Error, UnicodeDecodeError, ZipRejectedError) as exc:
                raise CsvFormatError(str(self.zip_path), f"unreadable header ({exc})") from exc
        self.header: tuple[str, ...] = tuple(first)

    @property
    def label(self) -> str:
        """How rejects name this file: ``{zip name}:{member}``."""
        return f"{self.zip_path.name}:{self.member}"

    def open_binary(self) -> IO[bytes]:
        # ISA-L inflates the member; CRC and size are checked at its end and a
        # damaged member raises CorruptZipError from ``read`` (CsvFormatError in
        # ``iter_batches``). Closing the stream closes the archive.
        return open_member(self.zip_path, self.member)

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

        metadata = MetadataColumns(module, job_id, extracted_at)
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
                # parsing and converting run in the prefetch thread (both release the GIL):
                # the caller's thread only accounts, stamps and passes batches on
                typed = ((raw.num_rows, convert_batch(raw, schema)) for raw in reader)
                with contextlib.closing(prefetch(typed, self.prefetch_batches)) as batches:
                    for raw_rows, converted in batches:
                        with lock:
                            self._account(converted, valid_rows, ragged, rejects)
                        valid_rows += raw_rows
                        if converted.batch.num_rows:
                            yield metadata.add_to(converted.batch)
            except pa.ArrowInvalid as exc:
                raise CsvFormatError(self.label, f"CSV parse error ({exc})") from exc
            except CorruptZipError as exc:
                raise DamagedZipError(self.label, f"damaged zip ({exc})") from exc
            except ZipRejectedError as exc:
                raise CsvFormatError(self.label, f"unsafe zip ({exc})") from exc

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


def prefetch(items: Iterable[T], depth: int) -> Generator[T, None, None]:
    """Take ``items`` in a background thread, at most ``depth`` ahead of the consumer.

    Decompressing, parsing and converting release the GIL, so on two cores the next block
    is parsed and converted while this one is written. Memory grows by at most ``depth``
    items. Errors in the reading thread are raised here; stopping early stops the thread.
    """
    if depth <= 0:
        yield from items
        return
    slots: queue.Queue[tuple[T] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item,), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            end: BaseException | None = None
        except BaseException as exc:  # handed to the consumer, raised there
            end = exc
        while not stop.is_set():
            try:
                slots.put(end, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=produce, name="csv-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            slot = slots.get()
            if slot is None:
                return
            if isinstance(slot, BaseException):
                raise slot
            yield slot[0]
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


class MetadataColumns:
    """The constant ``_zoho_module``, ``_zoho_job_id``, ``_extracted_at`` columns of a page.

    Built once (and grown when a batch is longer) and sliced per batch, zero-copy.
    """

    def __init__(self, module: str, job_id: str, extracted_at: datetime) -> None:
        self.module = module
        self.job_id = job_id
        self.stamp = pa.scalar(extracted_at.astimezone(UTC), UTC_TIMESTAMP)
        self._columns: list[pa.Array] = []

    def add_to(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = batch.num_rows
        if not self._columns or len(self._columns[0]) < rows:
            size = max(rows, 2 * len(self._columns[0]) if self._columns else 0)
            self._columns = [
                pa.nulls(size, pa.string()).fill_null(self.module),
                pa.nulls(size, pa.string()).fill_null(self.job_id),
                pa.nulls(size, UTC_TIMESTAMP).fill_null(self.stamp),
            ]
        extra = [column.slice(0, rows) for column in self._columns]
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
