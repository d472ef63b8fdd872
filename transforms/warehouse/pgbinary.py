"""Arrow record batches -> PostgreSQL binary ``COPY`` data, column by column (vectorised).

A binary COPY tuple is a field count (int16) followed by, per field, its length (int32, -1
for NULL) and its bytes in the type's binary format (big-endian numbers; PostgreSQL's own
epochs and base-10000 numerics). Rather than writing tuples value by value, each column is
encoded as Arrow ``binary`` pieces (the length prefixes, then the values, NULL values
masked out) with NumPy and Arrow compute, and one ``binary_join_element_wise`` interleaves
every column's pieces into rows: the joined arrays' data buffers ARE the COPY data. Text,
the bulk of the bytes, is never copied before that join: the batches of a block stay
separate chunks. 1,000,000 CRM Leads (37 columns) encode in ~2 CPU s; ADBC's row-by-row
binary COPY writer took 4.3-4.8 CPU s to encode and send them.

Encoded types (the Arrow types `transforms.warehouse.types` maps PostgreSQL columns to):
string (text), int16/32/64, float32/64, bool, date32, timestamp (timestamptz), decimal128
(numeric, up to 38 digits) and list<string> (text[]). Anything else raises
`UnsupportedTypeError` naming the column.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.errors import UnsupportedTypeError

#: what a binary COPY stream starts with (signature, flags, header extension length) ...
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
#: ... and ends with (a field count of -1)
COPY_TRAILER = struct.pack(">h", -1)
#: PostgreSQL counts dates from 2000-01-01 (10,957 days after 1970-01-01) and timestamps
#: in microseconds from 2000-01-01 00:00 UTC
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_MICROS = _PG_EPOCH_DAYS * 86_400 * 1_000_000
_NBASE = 10_000  # a numeric digit is base 10,000 (4 decimal digits)
_NUMERIC_NEGATIVE = 0x4000
_TEXT_OID = 25
_DIALECT = "postgresql"

Piece: TypeAlias = pa.Array | pa.ChunkedArray
Encoder: TypeAlias = Callable[[pa.ChunkedArray], list[Piece]]


def encode_rows(batches: Sequence[pa.RecordBatch]) -> Iterator[pa.Buffer]:
    """The rows of ``batches`` (one schema) as binary COPY tuples: no header or trailer.

    Yields one buffer per batch (a text column's chunks bound the joined chunks), so memory
    is about twice the batches' and no buffer nears binary's 2 GiB offset limit.
    """
    if not batches:
        return
    table = pa.Table.from_batches(batches)  # no copy: each column is a chunked array
    rows = table.num_rows
    pieces: list[Piece] = [_constant(rows, struct.pack(">h", table.num_columns))]
    for field, column in zip(table.schema, table.columns, strict=True):
        pieces.extend(_encoder(field)(column))
    joined = pc.binary_join_element_wise(*pieces, b"", null_handling="replace")
    chunks = joined.chunks if isinstance(joined, pa.ChunkedArray) else [joined]
    for chunk in chunks:
        if len(chunk):
            yield _data(chunk)


def _encoder(field: pa.Field) -> Encoder:
    if pa.types.is_string(field.type):
        return _text  # chunk by chunk: the bulk of the bytes, not copied
    encode = _array_encoder(field)
    return lambda column: encode(column.combine_chunks())


def _array_encoder(field: pa.Field) -> Callable[[pa.Array], list[Piece]]:
    kind = field.type
    if pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
        return _text_array
    if pa.types.is_decimal128(kind):
        return _numeric
    if pa.types.is_timestamp(kind):
        return _timestamp
    if pa.types.is_date32(kind):
        return _date
    if pa.types.is_boolean(kind):
        return lambda column: _fixed(column, "u1", False)
    if kind in (pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64()):
        big_endian = np.dtype(kind.to_pandas_dtype()).newbyteorder(">")
        return lambda column: _fixed(column, big_endian, 0)
    raise UnsupportedTypeError(field.name, str(kind), _DIALECT)


# -- the pieces of each type ---------------------------------------------------------------
def _text(column: pa.ChunkedArray | pa.Array) -> list[Piece]:
    """Length prefixes (-1 for NULL), then the UTF-8 bytes themselves (not copied)."""
    lengths = pc.binary_length(column).fill_null(-1).to_numpy(zero_copy_only=False)
    return [_fixed_width(lengths.astype(">i4")), column.cast(pa.binary())]


def _text_array(column: pa.Array) -> list[Piece]:
    """``text[]``: length; dimensions, flags, element type; size, lower bound; elements."""
    items = column.values  # every item of the unsliced array: the offsets index into it
    elements = pc.binary_join_element_wise(*_text(items), b"", null_handling="replace")
    bodies = pc.binary_join(pa.ListArray.from_arrays(column.offsets, elements), b"")
    counts = pc.list_value_length(column).fill_null(0)
    filled = pc.greater(counts, 0)  # an empty array has no dimension (no size, lower bound)
    valid = pc.is_valid(column)
    body_lengths = pc.binary_length(bodies).fill_null(0).to_numpy(zero_copy_only=False)
    lengths = np.where(_numpy(filled), 20, 12) + body_lengths
    header = np.zeros(len(column), [("ndim", ">i4"), ("flags", ">i4"), ("oid", ">i4")])
    header["ndim"] = _numpy(filled)
    header["oid"] = _TEXT_OID
    dimension = np.zeros(len(column), [("size", ">i4"), ("lower_bound", ">i4")])
    dimension["size"] = counts.to_numpy(zero_copy_only=False)
    dimension["lower_bound"] = 1
    return [
        _fixed_width(np.where(_numpy(valid), lengths, -1).astype(">i4")),
        _fixed_width(header, _bitmap(valid)),
        _fixed_width(dimension, _bitmap(pc.and_(valid, filled))),
        bodies,
    ]


def _numeric(column: pa.Array) -> list[Piece]:
    """``numeric``: digit count, weight, sign, display scale, then base-10000 digits."""
    kind = column.type
    scale = kind.scale
    magnitude, negative = _decimal_limbs(column)
    # the lowest digit holds the last (scale % 4) decimals, left-aligned; then whole digits
    partial = scale % 4
    low = [_divide(magnitude, 10**partial) * 10 ** (4 - partial)] if partial else []
    digits_after_point = (scale + 3) // 4
    count = (kind.precision - scale + 3) // 4 + digits_after_point
    record = np.zeros(
        len(column),
        [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"),
         ("digits", ">i2", (count,))],
    )  # fmt: skip
    for position in range(count - 1, -1, -1):  # least significant first
        record["digits"][:, position] = low.pop() if low else _divide(magnitude, _NBASE)
    record["ndigits"] = count
    record["weight"] = count - digits_after_point - 1
    record["sign"] = np.where(negative, _NUMERIC_NEGATIVE, 0)
    record["dscale"] = scale
    return _with_lengths(column, record)


def _decimal_limbs(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """|value| of each decimal128 as 32-bit limbs (most significant first), and signs.

    Up to 18 digits a value fits the low 64-bit word: one "limb" of 64 bits then, so the
    usual money and percent columns take one division per digit instead of four.
    """
    raw = np.frombuffer(column.buffers()[1], "<u8", 2 * len(column), column.offset * 16)
    low, high = raw[0::2].copy(), raw[1::2].copy()
    negative = (high >> np.uint64(63)).astype(bool)
    # two's complement: |v| = ~v + 1, the carry going from the low word to the high one
    low[negative] = ~low[negative] + np.uint64(1)
    if column.type.precision <= 18:  # |v| < 10^18 < 2^63: the high word is all sign
        return low[np.newaxis, :], negative
    high[negative] = ~high[negative] + (low[negative] == 0).astype(np.uint64)
    mask, bits = np.uint64(0xFFFFFFFF), np.uint64(32)
    return np.stack([high >> bits, high & mask, low >> bits, low & mask]), negative


def _divide(limbs: np.ndarray, divisor: int) -> np.ndarray:
    """Divide the limbs in place by ``divisor`` (< 2^31); returns the remainders."""
    d = np.uint64(divisor)
    if limbs.shape[0] == 1:  # one 64-bit limb
        remainder = limbs[0] % d
        limbs[0] //= d
        return remainder
    remainder = np.zeros(limbs.shape[1], np.uint64)
    for i in range(limbs.shape[0]):
        current = (remainder << np.uint64(32)) | limbs[i]
        limbs[i] = current // d
        remainder = current % d
    return remainder


def _timestamp(column: pa.Array) -> list[Piece]:
    micros = pc.cast(column, pa.timestamp("us", column.type.tz)).cast(pa.int64())
    return _fixed(micros, ">i8", 0, shift=-_PG_EPOCH_MICROS)


def _date(column: pa.Array) -> list[Piece]:
    return _fixed(column.cast(pa.int32()), ">i4", 0, shift=-_PG_EPOCH_DAYS)


def _fixed(column: pa.Array, dtype: str | np.dtype, fill: object, shift: int = 0) -> list[Piece]:
    """A fixed-size type: its values as big-endian ``dtype``, ``shift`` added to them."""
    filled = column.fill_null(fill) if column.null_count else column
    values = filled.to_numpy(zero_copy_only=False)
    if shift:
        values = values.astype(np.int64) + shift
    return _with_lengths(column, values.astype(dtype))


# -- helpers -------------------------------------------------------------------------------
def _with_lengths(column: pa.Array, values: np.ndarray) -> list[Piece]:
    """Each value's length (-1 for NULL), then the value (NULLs masked out)."""
    width = values.dtype.itemsize
    if not column.null_count:
        return [_constant(len(values), struct.pack(">i", width)), _fixed_width(values)]
    valid = pc.is_valid(column)
    lengths = np.where(_numpy(valid), width, -1).astype(">i4")
    return [_fixed_width(lengths), _fixed_width(values, _bitmap(valid))]


def _numpy(flags: pa.BooleanArray) -> np.ndarray:
    array: np.ndarray = flags.to_numpy(zero_copy_only=False)
    return array


def _bitmap(valid: pa.BooleanArray) -> pa.Buffer:
    """The bits of a boolean array with no NULLs, as a validity bitmap at offset 0."""
    if valid.offset:
        valid = pa.concat_arrays([valid])  # a copy starting at bit 0
    bits: pa.Buffer = valid.buffers()[1]
    return bits


def _fixed_width(records: np.ndarray, validity: pa.Buffer | None = None) -> pa.Array:
    """A binary array whose i-th value is the bytes of ``records[i]`` (not copied)."""
    rows, width = len(records), records.dtype.itemsize
    data = pa.py_buffer(np.ascontiguousarray(records).view(np.uint8))
    return pa.Array.from_buffers(pa.binary(), rows, [validity, _step_offsets(rows, width), data])


@lru_cache(maxsize=64)
def _step_offsets(rows: int, width: int) -> pa.Buffer:
    return pa.py_buffer(np.arange(0, (rows + 1) * width, width, dtype=np.int32))


@lru_cache(maxsize=64)
def _constant(rows: int, value: bytes) -> pa.Array:
    """``rows`` times the same bytes (a field count, a fixed length)."""
    return _fixed_width(np.frombuffer(value * rows, np.dtype((np.void, len(value)))))


def _data(joined: pa.Array) -> pa.Buffer:
    """The bytes of every value of a binary array, end to end (a zero-copy slice)."""
    offsets = np.frombuffer(joined.buffers()[1], np.int32, len(joined) + 1, joined.offset * 4)
    data: pa.Buffer = joined.buffers()[2]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
