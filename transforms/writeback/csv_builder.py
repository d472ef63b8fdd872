"""Zipped CSV chunks for bulk write: at most 25,000 rows and 25 MB zipped per chunk.

`build_chunks(preflight)` takes the valid rows of a `Preflight` (rendered text, so no
value is formatted twice), cuts them into chunks, writes each chunk's CSV with
``pyarrow.csv.write_csv`` (header = API names, or ``Field.parent`` for header-form
lookups; RFC 4180 quoting; UTF-8) and zips it as the single member of its zip. Chunks
are built on a small thread pool (CSV writing and deflate release the GIL). A chunk whose
zip would pass 25 MB is split in two until it fits.

The zip is written here rather than through ``zipfile``: the CSV goes from Arrow's
output buffer straight into a raw deflate stream (no ``BytesIO`` copies), and the
one-member archive (local header, data, central directory) is put together around it.
Deflate uses ``isal.isal_zlib`` (python-isal, Intel ISA-L: about 3x faster than zlib at
level 1 with slightly smaller output; a standard deflate stream every unzip reads).
Levels 1-9 map to ISA-L's 1-3; level 0 stores the CSV uncompressed (method 0).

Each `Chunk` remembers which input rows it holds, in CSV order, so the result file
Zoho returns per job can be joined back to input rows by position.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from isal import isal_zlib

from transforms.writeback.errors import ChunkTooLargeError
from transforms.writeback.validate import Preflight

MAX_ROWS_PER_CHUNK = 25_000
MAX_ZIP_BYTES = 25 * 1024 * 1024
DEFAULT_COMPRESSLEVEL = 1
_ZIP32_LIMIT = 0xFFFFFFFF
_DOS_DATE_1980_01_01 = (1 << 5) | 1  # date (1980, 1, 1), time 00:00:00
_UTF8_NAME_FLAG = 0x800


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


def _level(level: int) -> int:
    """zlib-style levels 1-9 to ISA-L's 1-3 (ISA-L's 0 still compresses; ours stores)."""
    if not 1 <= level <= 9:
        raise ValueError(f"compression level must be 0-9, not {level}")
    return min(level, 3)


def csv_buffer(table: pa.Table) -> pa.Buffer:
    """The CSV text Zoho receives for ``table``, in Arrow's own buffer (no copy)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=True))
    return sink.getvalue()


def csv_bytes(table: pa.Table) -> bytes:
    """The CSV text Zoho receives for ``table`` (all columns already rendered as text)."""
    return csv_buffer(table).to_pybytes()


def zip_csv(
    name: str, data: bytes | pa.Buffer, compresslevel: int = DEFAULT_COMPRESSLEVEL
) -> bytes:
    """One-member zip; a fixed timestamp makes equal CSVs give byte-identical zips."""
    return zip_members([(name, data)], compresslevel)


def zip_members(
    members: Sequence[tuple[str, bytes | pa.Buffer]],
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
) -> bytes:
    """A zip of CSVs in the given order (several only for a parent/child import)."""
    if sum(memoryview(d).nbytes for _, d in members) > _ZIP32_LIMIT:
        return _zip_csv_zipfile([(n, memoryview(d).tobytes()) for n, d in members], compresslevel)
    parts: list[bytes | memoryview] = []
    directory: list[bytes] = []
    offset = 0
    for name, data in members:
        local, body, central = _member(name, memoryview(data), compresslevel, offset)
        parts += (local, body)
        directory.append(central)
        offset += len(local) + body.nbytes
    size = sum(map(len, directory))
    count = len(members)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, offset, 0)
    return b"".join((*parts, *directory, end))


def _member(
    name: str, view: memoryview, level: int, offset: int
) -> tuple[bytes, memoryview, bytes]:
    """Local header + name, the (deflated) data, central-directory entry + name."""
    crc = zlib.crc32(view)
    if level == 0:
        method, body = 0, view
    else:
        deflater = isal_zlib.compressobj(_level(level), isal_zlib.DEFLATED, -15)
        method, body = 8, memoryview(deflater.compress(view) + deflater.flush())
    encoded = name.encode("utf-8")
    flags = 0 if encoded.isascii() else _UTF8_NAME_FLAG
    sizes = (crc, body.nbytes, view.nbytes, len(encoded))
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0,
                        _DOS_DATE_1980_01_01, *sizes, 0)  # fmt: skip
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0,
                          _DOS_DATE_1980_01_01, *sizes, 0, 0, 0, 0, 0, offset)  # fmt: skip
    return local + encoded, body, central + encoded


def _zip_csv_zipfile(members: Sequence[tuple[str, bytes]], compresslevel: int) -> bytes:
    sink = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compresslevel else zipfile.ZIP_STORED
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data, compresslevel=compresslevel)
    return sink.getvalue()


def plan_chunks(preflight: Preflight, max_rows: int = MAX_ROWS_PER_CHUNK) -> list[int]:
    """Rows per chunk `build_chunks` starts from, without writing a CSV or a zip.

    A chunk whose zip would pass 25 MB is split further when it is built, so this is the
    least number of jobs (a dry run's estimate).
    """
    if not 0 < max_rows <= MAX_ROWS_PER_CHUNK:
        raise ValueError(f"max_rows must be between 1 and {MAX_ROWS_PER_CHUNK}")
    valid = len(preflight.valid_rows)
    return [min(max_rows, valid - start) for start in range(0, valid, max_rows)]


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
    data = zip_csv(csv_name(module), csv_buffer(_rows_of(rendered, rows)), level)
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
