from __future__ import annotations

import csv
import io
import random
import string
import zipfile

import numpy as np
import pyarrow as pa
import pytest

from connectors.fields import FieldSpec
from transforms.writeback.csv_builder import build_chunks, csv_bytes, zip_members
from transforms.writeback.errors import ChunkTooLargeError
from transforms.writeback.mapping import FieldMapping, Lookup, WriteMapping
from transforms.writeback.validate import preflight

MAPPING = WriteMapping(
    "Contacts",
    "insert",
    (
        FieldMapping("Last_Name", "last"),
        FieldMapping("Email", "email"),
        FieldMapping("Account_Name", "acc", lookup=Lookup("Account_Name", "header")),
    ),
)


def unzip(data: bytes) -> tuple[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert len(zf.namelist()) == 1
        name = zf.namelist()[0]
        return name, list(csv.reader(io.StringIO(zf.read(name).decode("utf-8"))))


def table(n: int) -> pa.Table:
    return pa.table(
        {
            "last": [f'L{i}, "q"\nline' if i % 7 == 0 else f"L{i}" for i in range(n)],
            "email": [f"p{i}@x.io" if i % 5 else "bad" for i in range(n)],
            "acc": ["Acme Ltd" if i % 2 else None for i in range(n)],
        }
    )


def test_chunks_hold_valid_rows_in_order_and_remember_positions(
    contact_fields: tuple[FieldSpec, ...],
) -> None:
    pre = preflight(table(23), MAPPING, contact_fields)
    chunks = build_chunks(pre, max_rows=7)
    valid = pre.valid_rows
    assert [c.row_count for c in chunks] == [7, 7, 4]
    assert np.array_equal(np.concatenate([c.rows for c in chunks]), valid)
    for chunk in chunks:
        name, rows = unzip(chunk.zip_bytes)
        assert name == "Contacts.csv"
        assert rows[0] == ["Last_Name", "Email", "Account_Name.Account_Name"]
        for position, input_row in enumerate(chunk.rows):
            assert rows[position + 1][1] == f"p{input_row}@x.io"
    _, rows = unzip(chunks[0].zip_bytes)
    assert rows[6][0] == 'L7, "q"\nline'  # quoting survives commas, quotes and newlines
    assert rows[1][2] == "Acme Ltd"
    assert rows[2][2] == ""


def test_zips_are_deterministic(contact_fields: tuple[FieldSpec, ...]) -> None:
    pre = preflight(table(50), MAPPING, contact_fields)
    first = [c.zip_bytes for c in build_chunks(pre, max_rows=10)]
    again = [c.zip_bytes for c in build_chunks(pre, max_rows=10, workers=1)]
    assert first == again


def test_chunks_over_the_zip_limit_are_split(contact_fields: tuple[FieldSpec, ...]) -> None:
    rng = random.Random(1)
    noise = ["".join(rng.choices(string.ascii_letters, k=20)) for _ in range(400)]
    t = pa.table({"last": noise, "email": [f"p{i}@x.io" for i in range(400)], "acc": [None] * 400})
    pre = preflight(t, MAPPING, contact_fields)
    whole = build_chunks(pre)
    assert len(whole) == 1
    limit = whole[0].zipped_size // 3
    split = build_chunks(pre, max_zip_bytes=limit)
    assert len(split) >= 3
    assert all(c.zipped_size <= limit for c in split)
    assert [c.index for c in split] == list(range(len(split)))
    assert np.array_equal(np.concatenate([c.rows for c in split]), np.arange(400))
    with pytest.raises(ChunkTooLargeError, match="row 0"):
        build_chunks(pre, max_zip_bytes=50)


def test_csv_bytes_writes_empty_cells_for_nulls() -> None:
    text = csv_bytes(pa.table({"a": ["x", None], "b": [None, "y"]})).decode()
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["x", ""], ["", "y"]]


def test_max_rows_is_capped_at_zoho_limit(contact_fields: tuple[FieldSpec, ...]) -> None:
    pre = preflight(table(3), MAPPING, contact_fields)
    with pytest.raises(ValueError, match="25000"):
        build_chunks(pre, max_rows=25_001)


@pytest.mark.parametrize("level", [0, 1, 6])
def test_zip_members_are_standard_zips(level: int) -> None:
    members = [("Deals.csv", b"Deal_Name,Stage\n" + b"Big deal,Won\n" * 500),
               ("Dé_Items.csv", pa.py_buffer("Product_Name\nÜber\n".encode()))]  # fmt: skip
    data = zip_members(members, level)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["Deals.csv", "Dé_Items.csv"]
        assert zf.read("Deals.csv") == bytes(members[0][1])
        assert zf.read("Dé_Items.csv").decode() == "Product_Name\nÜber\n"
        kinds = {i.compress_type for i in zf.infolist()}
    assert kinds == ({zipfile.ZIP_STORED} if level == 0 else {zipfile.ZIP_DEFLATED})
    assert zip_members(members, level) == data  # deterministic
    if level:
        assert len(data) < len(members[0][1])
