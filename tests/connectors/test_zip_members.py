"""Zip members: safe names, streamed bytes, the size cap."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from connectors.errors import CorruptZipError, ZipRejectedError
from connectors.zip_members import iter_member_bytes, open_member, safe_member_name
from tests.connectors.zips import CSV, make_zip


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("1.csv", True),
        ("dir/1.csv", True),
        ("", False),
        ("a//b.csv", False),
        ("a/./b.csv", False),
        ("nul\x00.csv", False),
    ],
)
def test_safe_member_name(name: str, ok: bool) -> None:
    assert safe_member_name(name) is ok


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_member_bytes_stream_the_csv(tmp_path: Path, method: int) -> None:
    z = tmp_path / "page.zip"
    payload = CSV * 300_000  # several 1 MiB chunks
    with zipfile.ZipFile(z, "w", method) as zf:
        zf.writestr("page.csv", payload)
    assert b"".join(iter_member_bytes(z, "page.csv")) == payload
    with open_member(z, "page.csv") as stream:
        assert stream.read(12) == payload[:12]
        assert stream.read() == payload[12:]


def test_member_bytes_stop_at_the_cap(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "big.zip", {"big.csv": b"0" * 3_000_000})
    with pytest.raises(ZipRejectedError) as info:
        b"".join(iter_member_bytes(z, "big.csv", max_uncompressed_bytes=1_000_000))
    assert info.value.code == "ZIP_TOO_LARGE"


def test_member_bytes_of_a_missing_member_are_corrupt(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "one.zip", {"one.csv": CSV})
    with pytest.raises(CorruptZipError):
        next(iter_member_bytes(z, "other.csv"))
