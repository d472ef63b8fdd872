"""Hive-partitioned Parquet datasets, one per product and module.

Layout::

    {root}/{product}/{module}/extracted_date=YYYY-MM-DD/run={run_id}/{file_stem}-0000.parquet

``extracted_date`` is the UTC date of the extraction, ``run`` the flow run (by default the
bulk-read job id) and ``file_stem`` the page (the job id). Files are zstd-compressed, of
``max_rows_per_file`` rows in row groups of ``row_group_rows``. A page is written into a
private directory under ``{root}/_incoming`` and moved into its partition on
`PageParquetWriter.commit`, replacing the files an earlier attempt of the same page left
there: re-running a page replaces it, never appends to it.

These files are the *landing* copy of each page: the engine commits a page from them into
the module's lake table (`engine.lake`), then deletes them (`remove_landing`) unless asked to
keep them for some days (`prune_landing`). Read modules through the lake, not these files:
pages repeat ids and drifted pages differ in types.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.identifiers import validate_api_name, validate_path_token

#: one row group per file of 32,768 rows (~4 MiB of Leads): the lake adopts a first load's
#: files as its data files (`transforms.lake.adopt`), and a later merge rewrites only the
#: files holding a changed id, so files the size of the lake's own keep that rewrite small
DEFAULT_ROW_GROUP_ROWS = 32 * 1024
DEFAULT_MAX_ROWS_PER_FILE = DEFAULT_ROW_GROUP_ROWS
#: a column chunk whose dictionary outgrows this is written plainly from then on: picklists,
#: owners and flags keep their dictionary; e-mails, phones and texts stop building one early.
#: Measured on a 200,000-row Leads page: 0.70 -> 0.46 CPU seconds, 16.0 -> 14.3 MB (1 MiB,
#: pyarrow's default, builds and drops big dictionaries)
DICTIONARY_PAGE_LIMIT = 64 * 1024
INCOMING_DIR = "_incoming"


def partition_dir(
    root: Path, product: str, module: str, extracted_at: datetime, run_id: str
) -> Path:
    """The directory of one (product, module, extraction date, run) partition."""
    validate_api_name(product, "product")
    validate_api_name(module, "module")
    validate_path_token(run_id, "run id")
    day = extracted_at.astimezone(UTC).date().isoformat()
    return Path(root) / product / module / f"extracted_date={day}" / f"run={run_id}"


class PageParquetWriter:
    """Writes one page's batches into its partition; commit replaces earlier attempts.

    Use as a context manager: leaving the block normally commits, an exception aborts (the
    partition keeps whatever was there before).
    """

    def __init__(
        self,
        directory: Path,
        file_stem: str,
        schema: pa.Schema,
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
        incoming_root: Path,
    ) -> None:
        validate_path_token(file_stem, "file stem")
        self.directory = Path(directory)
        self.file_stem = file_stem
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.max_rows_per_file = max_rows_per_file
        self._tmp = Path(incoming_root) / f"{file_stem}-{uuid.uuid4().hex}"
        self._tmp.mkdir(parents=True)
        self._writer: pq.ParquetWriter | None = None
        self._files: list[str] = []
        self._rows_in_file = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows_written = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Buffer ``batch``; full row groups go to disk as they fill."""
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        while self._pending_rows >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def finish(self) -> None:
        """Write what is buffered and close the files (still private: see `commit`)."""
        while self._pending_rows:
            self._flush(self._pending_rows)
        self._close_file()
        if not self._files:  # an empty page still leaves one (empty) file: it was read
            self._open_file()
            self._close_file()

    def commit(self) -> tuple[Path, ...]:
        """Move the page's files into the partition, replacing an earlier attempt's files."""
        self.finish()
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(f"{self.file_stem}-*.parquet"):
            stale.unlink()
        final: list[Path] = []
        for name in self._files:
            target = self.directory / name
            os.replace(self._tmp / name, target)
            final.append(target)
        shutil.rmtree(self._tmp, ignore_errors=True)
        return tuple(final)

    def abort(self) -> None:
        """Drop everything written so far; the partition is untouched."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> PageParquetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()

    def _flush(self, rows: int) -> None:
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        group, rest = table.slice(0, rows), table.slice(rows)
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        if self._writer is None or self._rows_in_file >= self.max_rows_per_file:
            self._close_file()
            self._open_file()
        assert self._writer is not None
        self._writer.write_table(group, row_group_size=self.row_group_rows)
        self._rows_in_file += group.num_rows
        self.rows_written += group.num_rows

    def _open_file(self) -> None:
        name = f"{self.file_stem}-{len(self._files):04d}.parquet"
        self._files.append(name)
        self._writer = pq.ParquetWriter(
            self._tmp / name,
            self.schema,
            compression="zstd",
            dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT,
        )
        self._rows_in_file = 0

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class BackgroundPageWriter:
    """A `PageParquetWriter` fed from its own thread: `write` queues the batch and returns.

    Encoding and zstd-compressing row groups release the GIL, so on two cores a page's
    Parquet is written while the caller's thread loads the same batches into the warehouse;
    `finish` (the page is read) lets the thread write the last row group meanwhile too. At
    most ``depth`` batches wait: enough for a row group to queue while the previous one is
    written. An error of the writing thread is raised by the next `write` or by `commit`;
    `abort` drops everything, as the wrapped writer's does.
    """

    def __init__(self, writer: PageParquetWriter, depth: int = 128) -> None:
        self._writer = writer
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="parquet-writer", daemon=True)
        self._thread.start()

    def write(self, batch: pa.RecordBatch) -> None:
        self._raise_error()
        self._queue.put(batch)

    def finish(self) -> None:
        """No more batches: the thread writes the rest and closes the (private) files."""
        if not self._finished:
            self._finished = True
            self._queue.put(None)

    def commit(self) -> tuple[Path, ...]:
        self.finish()
        self._thread.join()
        self._raise_error()
        return self._writer.commit()

    def abort(self) -> None:
        self.finish()
        self._thread.join()
        self._writer.abort()

    def _run(self) -> None:
        # After a failure the thread keeps taking batches (and drops them) so that `write`
        # never blocks on a full queue; the error is raised in the caller's thread.
        while (batch := self._queue.get()) is not None:
            self._attempt(self._writer.write, batch)
        self._attempt(self._writer.finish)

    def _attempt(self, step: Callable[..., None], *args: pa.RecordBatch) -> None:
        if self._error is None:
            try:
                step(*args)
            except BaseException as exc:
                self._error = exc

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def open_page_writer(
    root: Path,
    *,
    product: str,
    module: str,
    extracted_at: datetime,
    run_id: str,
    file_stem: str,
    schema: pa.Schema,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> PageParquetWriter:
    """A writer for one page of ``{root}/{product}/{module}`` (staged in ``{root}/_incoming``)."""
    directory = partition_dir(root, product, module, extracted_at, run_id)
    return PageParquetWriter(
        directory,
        file_stem,
        schema,
        row_group_rows=row_group_rows,
        incoming_root=Path(root) / INCOMING_DIR,
    )


def remove_landing(files: Iterable[Path]) -> None:
    """Delete a page's landing files and the partition directories they leave empty."""
    for path in files:
        path = Path(path)
        path.unlink(missing_ok=True)
        for directory in (path.parent, path.parent.parent):  # run=..., extracted_date=...
            with contextlib.suppress(OSError):  # not empty: another page still lives there
                directory.rmdir()


def prune_landing(root: Path, product: str, module: str, older_than: datetime) -> list[Path]:
    """Delete the module's ``extracted_date=`` partitions of days before ``older_than``'s."""
    base = Path(root) / validate_api_name(product, "product") / validate_api_name(module, "module")
    cutoff = older_than.astimezone(UTC).date().isoformat()
    removed: list[Path] = []
    for partition in sorted(base.glob("extracted_date=*")):
        day = partition.name.removeprefix("extracted_date=")
        if partition.is_dir() and day < cutoff:
            shutil.rmtree(partition, ignore_errors=True)
            removed.append(partition)
    return removed
