from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import CorruptZipError, ZipRejectedError
from connectors.zipcheck import (
    ZipLimits,
    inspect_zip,
    iter_member_bytes,
    read_members,
    verify_and_extract,
    verify_zip,
)
from tests.connectors.zips import CSV, make_zip


def listing(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()} if d.exists() else set()


def test_good_zip_is_verified_and_extracted(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "111.zip", {"111.csv": CSV})
    checked = verify_zip(z)
    assert (checked.member_name, checked.csv_size, checked.csv_path) == ("111.csv", len(CSV), None)
    out = tmp_path / "out"
    extracted = verify_and_extract(z, out)
    assert extracted.csv_path == out / "111.csv"
    assert extracted.csv_path.read_bytes() == CSV
    assert extracted.csv_sha256 == checked.csv_sha256
    assert len(extracted.csv_sha256) == 64
    assert listing(out) == {"111.csv"}


@pytest.mark.parametrize(
    "name",
    [
        "../evil.csv",
        "a/../../evil.csv",
        "/etc/evil.csv",
        "..\\evil.csv",
        "C:evil.csv",
        "C:/x/evil.csv",
        "./x.csv",
    ],
)
def test_path_traversal_member_is_rejected_and_nothing_extracted(tmp_path: Path, name: str) -> None:
    z = make_zip(tmp_path / "job.zip", {name: CSV})
    out = tmp_path / "out"
    with pytest.raises(ZipRejectedError) as info:
        verify_and_extract(z, out)
    assert info.value.code == "ZIP_PATH_TRAVERSAL"
    assert "path traversal" in str(info.value)
    assert listing(out) == set()
    assert not (tmp_path / "evil.csv").exists()


def test_two_members_are_rejected(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "job.zip", {"a.csv": CSV, "b.csv": CSV})
    out = tmp_path / "out"
    with pytest.raises(ZipRejectedError) as info:
        verify_and_extract(z, out)
    assert info.value.code == "ZIP_MEMBER_COUNT"
    assert "2 members" in str(info.value)
    assert listing(out) == set()


def test_non_csv_member_is_rejected(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "job.zip", {"job.exe": b"MZ"})
    with pytest.raises(ZipRejectedError, match=r"not a \.csv"):
        verify_zip(z)


def test_zip_bomb_over_declared_cap_is_rejected(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "bomb.zip", {"bomb.csv": b"0" * 5_000_000})
    assert z.stat().st_size < 50_000  # highly compressible
    out = tmp_path / "out"
    with pytest.raises(ZipRejectedError) as info:
        verify_and_extract(z, out, max_uncompressed_bytes=1_000_000)
    assert info.value.code == "ZIP_TOO_LARGE"
    assert "zip bomb" in str(info.value)
    assert listing(out) == set()


def test_zip_bomb_lying_about_its_size_is_stopped_while_extracting(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "liar.zip", {"liar.csv": b"0" * 3_000_000})
    data = bytearray(z.read_bytes())
    # Patch the declared uncompressed size (local header offset 22, central dir +24) to 10.
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    z.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises((ZipRejectedError, CorruptZipError)) as info:
        verify_and_extract(z, out, max_uncompressed_bytes=1_000_000)
    assert info.value.code in {"ZIP_TOO_LARGE", "CORRUPT_ZIP"}
    assert listing(out) == set()


def test_crc_mismatch_is_corrupt_and_retriable(tmp_path: Path) -> None:
    z = tmp_path / "crc.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("crc.csv", CSV)
    data = bytearray(z.read_bytes())
    at = data.find(b"Smith")
    data[at] = ord("X")  # flip stored content: CRC no longer matches
    z.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(CorruptZipError, match="CRC"):
        verify_and_extract(z, out)
    assert listing(out) == set()


def test_not_a_zip_is_corrupt(tmp_path: Path) -> None:
    z = tmp_path / "junk.zip"
    z.write_bytes(b"<html>gateway timeout</html>")
    with pytest.raises(CorruptZipError, match="not a readable zip"):
        verify_zip(z)


def test_truncated_zip_is_corrupt(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "t.zip", {"t.csv": CSV * 1000})
    z.write_bytes(z.read_bytes()[:200])
    with pytest.raises(CorruptZipError):
        verify_zip(z)


def test_target_name_must_be_plain(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "j.zip", {"j.csv": CSV})
    with pytest.raises(ValueError, match="plain file name"):
        verify_and_extract(z, tmp_path / "o", target_name="../x.csv")
    assert verify_and_extract(z, tmp_path / "o", target_name="page1.csv").csv_path == (
        tmp_path / "o" / "page1.csv"
    )


def _patch_crc(path: Path) -> None:
    """Change the member's declared CRC-32 (local header +14, central directory +16)."""
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    wrong = (int.from_bytes(data[central + 16 : central + 20], "little") ^ 0xFFFF).to_bytes(
        4, "little"
    )
    data[local + 14 : local + 18] = wrong
    data[central + 16 : central + 20] = wrong
    path.write_bytes(bytes(data))


def test_deflated_member_with_bad_crc_is_caught_by_the_isal_pass(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "crc.zip", {"crc.csv": CSV * 5000})
    _patch_crc(z)
    with pytest.raises(CorruptZipError, match="CRC"):
        verify_zip(z)
    with pytest.raises(CorruptZipError, match="CRC"):
        b"".join(iter_member_bytes(z, "crc.csv"))


def test_deflated_member_with_damaged_data_is_corrupt(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "bad.zip", {"bad.csv": bytes(range(256)) * 4000})
    data = bytearray(z.read_bytes())
    start = data.find(b"bad.csv") + len(b"bad.csv")
    for at in range(start + 10, start + 400, 7):
        data[at] ^= 0x5A
    z.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError):
        verify_zip(z)


def test_inspect_checks_the_structure_and_leaves_the_crc_to_the_reader(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "crc.zip", {"crc.csv": CSV * 5000})
    _patch_crc(z)
    checked = inspect_zip(z)  # no inflate pass: a bad CRC is not seen here ...
    assert (checked.member_name, checked.csv_size, checked.csv_sha256) == (
        "crc.csv",
        len(CSV) * 5000,
        None,
    )
    with pytest.raises(CorruptZipError, match="CRC"):  # ... but by whoever reads the member
        b"".join(iter_member_bytes(z, checked.member_name))


def test_inspect_applies_the_member_rules(tmp_path: Path) -> None:
    with pytest.raises(ZipRejectedError, match="path traversal"):
        inspect_zip(make_zip(tmp_path / "a.zip", {"../evil.csv": CSV}))
    with pytest.raises(ZipRejectedError, match="2 members"):
        inspect_zip(make_zip(tmp_path / "b.zip", {"b.csv": CSV, "c.csv": CSV}))
    with pytest.raises(ZipRejectedError, match="zip bomb"):
        inspect_zip(make_zip(tmp_path / "c.zip", {"c.csv": CSV * 100}), max_uncompressed_bytes=10)


def test_inspect_finds_a_cut_short_or_damaged_archive(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "t.zip", {"t.csv": bytes(range(256)) * 4000})
    whole = z.read_bytes()
    z.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorruptZipError):
        inspect_zip(z)
    # the member's data cut out of the middle, the central directory intact
    data = bytearray(whole)
    start = data.find(b"t.csv") + len(b"t.csv")
    z.write_bytes(bytes(data[:start] + data[start + 5000 :]))
    with pytest.raises(CorruptZipError):
        inspect_zip(z)
    # a local header that is not one
    data[0:4] = b"XXXX"
    z.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError, match="local file header"):
        inspect_zip(z)


def encrypted(path: Path) -> Path:
    """``path`` with the encryption flag set on its one member (local and central headers)."""
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    for flags in (6, central + 8):
        data[flags] |= 1
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "read",
    [
        verify_zip,
        inspect_zip,
        lambda z: verify_and_extract(z, z.parent / "out"),
        lambda z: b"".join(iter_member_bytes(z, "1.csv")),
    ],
    ids=["verify", "inspect", "extract", "iter"],
)
def test_an_encrypted_member_is_a_classified_refusal(tmp_path: Path, read: Any) -> None:
    z = encrypted(make_zip(tmp_path / "1.zip", {"1.csv": CSV}))
    with pytest.raises(ZipRejectedError) as info:
        read(z)
    assert info.value.code == "ZIP_ENCRYPTED"
    assert listing(tmp_path / "out") == set()


def test_read_members_checks_count_names_and_total(tmp_path: Path) -> None:
    limits = ZipLimits(max_members=2, max_member_bytes=100, max_total_bytes=150)
    two = make_zip(tmp_path / "two.zip", {"a.csv": b"x" * 90, "b.csv": b"y" * 50})
    assert read_members(two.read_bytes(), limits, where="two") == {
        "a.csv": b"x" * 90,
        "b.csv": b"y" * 50,
    }
    three = make_zip(tmp_path / "three.zip", {"a.csv": CSV, "b.csv": CSV, "c.csv": CSV})
    with pytest.raises(ZipRejectedError) as info:
        read_members(three.read_bytes(), limits, where="three")
    assert info.value.code == "ZIP_MEMBER_COUNT"
    over = make_zip(tmp_path / "over.zip", {"a.csv": b"x" * 90, "b.csv": b"y" * 90})
    with pytest.raises(ZipRejectedError) as info:
        read_members(over.read_bytes(), limits, where="over")
    assert info.value.code == "ZIP_TOO_LARGE"


def test_a_member_past_the_ratio_is_a_bomb(tmp_path: Path) -> None:
    limits = ZipLimits(max_ratio=50, ratio_floor_bytes=2**20)
    z = make_zip(tmp_path / "zeros.zip", {"z.csv": bytes(4 * 2**20)})
    with pytest.raises(ZipRejectedError) as info:
        read_members(z.read_bytes(), limits, where="zeros")
    assert info.value.code == "ZIP_RATIO"
    with pytest.raises(CorruptZipError):
        read_members(b"not a zip", limits, where="junk")
