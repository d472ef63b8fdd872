"""PostgreSQL COPY streams: one binary COPY fed by a helper thread, and CSV for ``ingest="csv"``.

`copy_batches` encodes Arrow batches (`transforms.warehouse.pgbinary`) in the caller's thread
while a helper thread writes them to the connection, so reading, encoding and the server's
work overlap; a bounded queue keeps memory flat. `csv_bytes` turns a batch into COPY-ready
CSV (multi-select lists as array literals). Data values never appear in SQL text.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms.identifiers import quote
from transforms.warehouse.base import take_rows
from transforms.warehouse.pgbinary import COPY_HEADER, COPY_TRAILER, encode_rows
from transforms.warehouse.sql import column_list, render

DIALECT = "postgresql"


_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


#: rows encoded together (NumPy and Arrow calls per column have a fixed cost to spread) ...
COPY_BLOCK_ROWS = 16_384


#: ... after a first block this small, doubling: the server, idle until a page's first rows
#: arrive, starts on them at once instead of after a full block of reading
COPY_FIRST_BLOCK_ROWS = 1_024


#: encoded batches waiting for the COPY thread (bounded memory)
COPY_QUEUE_DEPTH = 16


class _End:
    """Queue marker: the page is complete."""


class _Abort:
    """Queue marker: the caller failed; the COPY must fail too (nothing is committed)."""


class CopyAbortedError(RuntimeError):
    """Raised into the COPY stream when the reading side failed (the reader's error wins)."""


def copy_batches(
    cursor: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[str],
    batches: Iterable[pa.RecordBatch],
) -> int:
    """Send ``batches`` (their columns named ``columns``) into ``table`` with ONE binary COPY.

    This thread encodes (`transforms.warehouse.pgbinary`: ``COPY_FIRST_BLOCK_ROWS``, then twice
    as many each time up to ``COPY_BLOCK_ROWS``) while a helper thread writes what is encoded
    to the connection, and the server stores it: the queue between them holds at most
    ``COPY_QUEUE_DEPTH`` encoded batches. If the COPY fails before the end, encoding stops (the
    rest of ``batches`` stays unread) and its error is raised; if ``batches`` raises (a
    `KeptBatches` past its limit, say), the COPY is aborted (nothing of it is stored) and that
    error is raised. Returns the rows sent.
    """
    statement = render(DIALECT, "copy_binary", target=quote(table), columns=column_list(columns))
    slots: queue.Queue[pa.Buffer | type[_End] | type[_Abort]] = queue.Queue(
        maxsize=COPY_QUEUE_DEPTH
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with cursor.copy(statement) as copy:
                copy.write(COPY_HEADER)
                while (item := slots.get()) is not _End:
                    if item is _Abort:
                        raise CopyAbortedError("the page could not be read; COPY aborted")
                    assert isinstance(item, pa.Buffer)
                    copy.write(memoryview(item))
                copy.write(COPY_TRAILER)
        except BaseException as exc:  # raised in the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=run, name="pg-copy", daemon=True)
    worker.start()
    rows, block_rows = 0, COPY_FIRST_BLOCK_ROWS
    pending = iter(batches)
    try:
        while block := take_rows(pending, block_rows):
            if not all(_offer(slots, encoded, worker) for encoded in encode_rows(block)):
                break  # the COPY ended early: it failed
            rows += sum(batch.num_rows for batch in block)
            block_rows = min(2 * block_rows, COPY_BLOCK_ROWS)
        else:
            _offer(slots, _End, worker)
    except BaseException:
        _offer(slots, _Abort, worker)
        worker.join()
        raise
    worker.join()
    if failure:
        raise failure[0]
    return rows


def _offer(
    slots: queue.Queue[pa.Buffer | type[_End] | type[_Abort]],
    item: pa.Buffer | type[_End] | type[_Abort],
    worker: threading.Thread,
) -> bool:
    """Queue ``item`` for the COPY thread; False when that thread has already stopped."""
    while worker.is_alive():
        try:
            slots.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def csv_bytes(batch: pa.RecordBatch) -> bytes:
    """``batch`` as COPY-ready CSV: lists become array literals, nulls stay unquoted empty."""
    arrays = [pg_array_literal(c) if pa.types.is_list(c.type) else c for c in batch.columns]
    buffer = io.BytesIO()
    converted = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
    pacsv.write_csv(converted, buffer, _CSV_OPTIONS)
    return buffer.getvalue()


def pg_array_literal(values: pa.Array) -> pa.Array:
    """Arrow ``list<string>`` -> PostgreSQL array literals (``{"A","B \\"x\\""}``)."""
    items = values.values
    escaped = pc.replace_substring(pc.replace_substring(items, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    quoted = pc.if_else(pc.is_null(items), "NULL", quoted)
    # offsets index into values.values even for a sliced array (a mask would not allow that)
    rebuilt = pa.ListArray.from_arrays(values.offsets, quoted)
    literals = pc.binary_join_element_wise("{", pc.binary_join(rebuilt, ","), "}", "")
    return pc.if_else(values.is_null(), pa.scalar(None, pa.string()), literals)
