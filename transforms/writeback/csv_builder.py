"""Zipped CSV chunks for bulk write: at most 25,000 rows and 25 MB zipped per chunk.

`build_chunks(preflight)` takes the valid rows of a `Preflight` (rendered text, so no
value is formatted twice), cuts them into chunks, writes each chunk's CSV with
``pyarrow.csv.write_csv`` (header = API names, or ``Field.parent`` for header-form
lookups; RFC 4180 quoting; UTF-8) and zips it as the single member of its zip. Chunks
are built on a small thread pool (CSV writing and deflate release the GIL). A chunk whose
zip would pass 25 MB is split in two until it fits.

Each `Chunk` remembers which input rows it holds, in CSV order, so the result file
Zoho returns per job can be joined back to input rows by position.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from transforms.writeback.errors import ChunkTooLargeError
from transforms.writeback.validate import Preflight

MAX_ROWS_PER_CHUNK = 25_000
MAX_ZIP_BYTES = 25 * 1024 * 1024
DEFAULT_COMPRESSLEVEL = 1


@dataclass(frozen=True)
class Chunk:
    """One zip to upload: which input rows it holds (CSV order) and its bytes."""

    index: int
    rows: np.ndarray
    csv_name: str
    zip_bytes: bytes

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def zipped_size(self) -> int:
        return len(self.zip_bytes)

    def write(self, directory: str | Path) -> Path:
        """Save the zip as ``chunk-NNNN.zip`` in ``directory`` and return its path."""
        path = Path(directory) / f"chunk-{self.index:04d}.zip"
        path.write_bytes(self.zip_bytes)
        return path


def csv_bytes(table: pa.Table) -> bytes:
    """The CSV text Zoho receives for ``table`` (all columns already rendered as text)."""
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=True))
    return sink.getvalue()


def zip_csv(name: str, data: bytes, compresslevel: int = DEFAULT_COMPRESSLEVEL) -> bytes:
    """One-member zip; a fixed timestamp makes equal CSVs give byte-identical zips."""
    sink = io.BytesIO()
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        zf.writestr(info, data, compresslevel=compresslevel)
    return sink.getvalue()


def build_chunks(
    preflight: Preflight,
    rows: Sequence[int] | np.ndarray | None = None,
    *,
    max_rows: int = MAX_ROWS_PER_CHUNK,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
    workers: int = 2,
) -> list[Chunk]:
    """Zip the valid rows (or the given ``rows``) of ``preflight`` into upload chunks."""
    if not 0 < max_rows <= MAX_ROWS_PER_CHUNK:
        raise ValueError(f"max_rows must be between 1 and {MAX_ROWS_PER_CHUNK}")
    selected = preflight.valid_rows if rows is None else np.asarray(rows, dtype=np.int64)
    spans = [selected[i : i + max_rows] for i in range(0, len(selected), max_rows)]
    module = preflight.mapping.module

    def build(span: np.ndarray) -> list[tuple[np.ndarray, bytes]]:
        return _fit(preflight.rendered, span, module, max_zip_bytes, compresslevel)

    if workers > 1 and len(spans) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            built = list(pool.map(build, spans))
    else:
        built = [build(span) for span in spans]
    chunks: list[Chunk] = []
    for parts in built:
        for part_rows, data in parts:
            chunks.append(Chunk(len(chunks), part_rows, csv_name(module), data))
    return chunks


def _fit(
    rendered: pa.Table, rows: np.ndarray, module: str, limit: int, level: int
) -> list[tuple[np.ndarray, bytes]]:
    data = zip_csv(csv_name(module), csv_bytes(_rows_of(rendered, rows)), level)
    if len(data) <= limit:
        return [(rows, data)]
    if len(rows) == 1:
        raise ChunkTooLargeError(module, int(rows[0]), len(data), limit)
    half = len(rows) // 2
    return _fit(rendered, rows[:half], module, limit, level) + _fit(
        rendered, rows[half:], module, limit, level
    )


def _rows_of(rendered: pa.Table, rows: np.ndarray) -> pa.Table:
    """The chunk's rows: a zero-copy slice when they are contiguous, else a take."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return rendered.slice(int(rows[0]), len(rows))
    return rendered.take(pa.array(rows))


def csv_name(module: str) -> str:
    """Name of the CSV inside every chunk's zip (one module per zip)."""
    return f"{module}.csv"
