"""The binary COPY encoder: exact bytes for the format (its round trip: test_pgcopy.py)."""

from __future__ import annotations

import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from transforms.errors import UnsupportedTypeError
from transforms.warehouse.pgbinary import encode_rows


def encoded(*batches: pa.RecordBatch) -> bytes:
    return b"".join(bytes(buffer) for buffer in encode_rows(list(batches)))


def field(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


NULL = struct.pack(">i", -1)


def test_a_tuple_is_its_field_count_then_each_value_with_its_length() -> None:
    batch = pa.record_batch({"s": ["é", None, ""], "n": pa.array([1, None, -2], pa.int64())})
    assert encoded(batch) == (
        b"\x00\x02" + field("é".encode()) + field(struct.pack(">q", 1))
        + b"\x00\x02" + NULL + NULL
        + b"\x00\x02" + field(b"") + field(struct.pack(">q", -2))
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "kind", "digits", "weight", "sign"),
    [
        (Decimal("12345.67"), pa.decimal128(7, 2), [1, 2345, 6700], 1, 0),
        (Decimal("-0.01"), pa.decimal128(7, 2), [0, 0, 100], 1, 0x4000),
        (Decimal("0"), pa.decimal128(4, 0), [0], 0, 0),
        (Decimal("1.00005"), pa.decimal128(6, 5), [1, 0, 5000], 0, 0),
    ],
)
def test_numeric_is_base_10000_digits_aligned_on_the_decimal_point(
    value: Decimal, kind: pa.Decimal128Type, digits: list[int], weight: int, sign: int
) -> None:
    batch = pa.record_batch({"d": pa.array([value], kind)})
    numeric = struct.pack(">hhHh", len(digits), weight, sign, kind.scale)
    numeric += b"".join(struct.pack(">h", d) for d in digits)
    assert encoded(batch) == b"\x00\x01" + field(numeric)


def test_batches_of_a_block_and_sliced_batches_encode_like_one_batch() -> None:
    whole = pa.record_batch(
        {
            "s": ["a", None, "ccc", "d"],
            "l": pa.array([["x"], None, [], ["y", None]], pa.list_(pa.string())),
            "d": pa.array([Decimal("1.5"), None, Decimal("-2"), Decimal("3")], pa.decimal128(9, 1)),
            "b": [True, None, False, True],
        }
    )
    assert encoded(whole.slice(0, 1), whole.slice(1, 2), whole.slice(3)) == encoded(whole)
    copied = pa.RecordBatch.from_pylist(whole.slice(1, 2).to_pylist(), whole.schema)
    assert encoded(whole.slice(1, 2)) == encoded(copied)


def test_a_type_without_a_binary_encoding_names_its_column() -> None:
    batch = pa.record_batch({"Elapsed": pa.array([1], pa.duration("s"))})
    with pytest.raises(UnsupportedTypeError, match="Elapsed"):
        encoded(batch)
