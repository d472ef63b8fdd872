"""Verify a bulk read result zip (``verify_zip``) and, on request, extract its CSV safely.

The bulk read client keeps the verified zip (``transforms`` read it directly);
``verify_and_extract`` also writes the CSV next to it. ``inspect_zip`` checks the structure
only and leaves the CRC to the reader of the member (which checks it at the member's end).

A bulk read result is ``{job_id}.zip`` holding one ``{job_id}.csv``. Before anything is
written, the archive must have exactly one member, whose name is a plain relative ``.csv``
name (no ``..``, no absolute path, no drive letter, no directory), whose declared size is
under the cap. While extracting, the real number of bytes is counted against the cap
(declared sizes can lie) and zipfile checks the CRC at the end of the member. On any
failure the partial file is removed: nothing is extracted.

``CorruptZipError`` (retriable: download again) covers a damaged download: not a zip, bad
CRC, truncated data. ``ZipRejectedError`` (fatal) covers archives that are well-formed but
unsafe or unexpected.

Every zip the tool reads goes through this module, each kind with its `ZipLimits`: bulk
read results (`verify_zip` / `inspect_zip`: one CSV, 2 GiB), bulk write results and the
upload zips the tool built (`read_members` / `check_zip_bytes`: a few CSVs, a cap derived from
what was sent). The checks are the same for all: member count, safe names, no encryption,
declared and actual sizes, and the compression ratio (beyond ``ratio_floor_bytes``, more
than ``max_ratio`` bytes out per byte in is a zip bomb, ``ZIP_RATIO``).

The member rules (`ZipLimits`, `check_members`) and the streaming inflate of one member
(`iter_member_bytes`, `open_member`; ISA-L, faster than zlib on the same stream) live in
`connectors.zip_members` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import posixpath
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from connectors.errors import CorruptZipError
from connectors.zip_members import (
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_UNCOMPRESSED,
    DEFAULT_RATIO_FLOOR,
    ZipLimits,
    check_members,
    damaged_error,
    data_offset,
    iter_member_bytes,
    member_chunks,
    open_member,
    safe_member_name,
)

__all__ = [
    "DEFAULT_MAX_RATIO",
    "DEFAULT_MAX_UNCOMPRESSED",
    "DEFAULT_RATIO_FLOOR",
    "VerifiedZip",
    "ZipLimits",
    "check_members",
    "check_zip_bytes",
    "inspect_zip",
    "iter_member_bytes",
    "open_member",
    "read_members",
    "safe_member_name",
    "verify_and_extract",
    "verify_zip",
]


@dataclass(frozen=True)
class VerifiedZip:
    """A zip that passed every check; ``csv_*`` describe its (uncompressed) CSV member.

    ``csv_path`` is set only when the CSV was extracted. After `inspect_zip` (structure
    only) ``csv_size`` is the declared size and ``csv_sha256`` is None.
    """

    zip_path: Path
    zip_size: int
    member_name: str
    csv_size: int
    csv_sha256: str | None
    csv_path: Path | None = None


def verify_zip(
    zip_path: Path,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    expected_suffix: str = ".csv",
) -> VerifiedZip:
    """Check ``zip_path`` fully (CRC included) without writing anything."""
    return _verify(zip_path, None, max_uncompressed_bytes, expected_suffix, None)


def verify_and_extract(
    zip_path: Path,
    dest_dir: Path,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    expected_suffix: str = ".csv",
    target_name: str | None = None,
) -> VerifiedZip:
    """Check ``zip_path`` and extract its one CSV into ``dest_dir``.

    The CSV is written as ``target_name`` (default: the member's base name) so a member
    name never decides where a file lands. Nothing is left behind when a check fails.
    """
    return _verify(zip_path, dest_dir, max_uncompressed_bytes, expected_suffix, target_name)


def inspect_zip(
    zip_path: Path,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    expected_suffix: str = ".csv",
) -> VerifiedZip:
    """Check ``zip_path``'s structure only, without inflating anything.

    The same member rules as `verify_zip` (one safe ``.csv`` member, declared size under the
    cap), and the member's local header and compressed data must lie before the central
    directory (a cut-short download fails here). The CRC and the real size are left to
    whoever reads the member: `iter_member_bytes` / `open_member` check both at its end and
    raise ``CorruptZipError``, so a reader that reads every byte anyway (the loader) does
    not pay for a second inflate pass.
    """
    where = zip_path.name
    with _open_archive(zip_path) as archive:
        info = _single_safe_member(archive, where, max_uncompressed_bytes, expected_suffix)
        _check_member_extent(archive, info, where)
    return VerifiedZip(
        zip_path=zip_path,
        zip_size=zip_path.stat().st_size,
        member_name=info.filename,
        csv_size=info.file_size,
        csv_sha256=None,
    )


def _open_archive(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        where = zip_path.name
        raise CorruptZipError(f"{where} is not a readable zip ({exc})", path=where) from None


def _check_member_extent(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    """The member's local header is intact and its data ends before the central directory."""
    raw = archive.fp
    try:
        if raw is None:
            raise zipfile.BadZipFile("archive is closed")
        if data_offset(raw, info) + info.compress_size > archive.start_dir:
            raise zipfile.BadZipFile("member data runs past the central directory")
    except (zipfile.BadZipFile, struct.error, OSError) as exc:
        raise damaged_error(where, info.filename, exc) from None


def _verify(
    zip_path: Path,
    dest_dir: Path | None,
    cap: int,
    expected_suffix: str,
    target_name: str | None,
) -> VerifiedZip:
    where = zip_path.name
    with _open_archive(zip_path) as archive:
        info = _single_safe_member(archive, where, cap, expected_suffix)
        target: Path | None = None
        part: Path | None = None
        if dest_dir is not None:
            dest_dir.mkdir(parents=True, exist_ok=True)
            out_name = target_name or posixpath.basename(info.filename.replace("\\", "/"))
            if not safe_member_name(out_name) or "/" in out_name:
                raise ValueError(f"target_name must be a plain file name, got {out_name!r}")
            target = dest_dir / out_name
            part = dest_dir / (out_name + ".part")
        size, digest = _scan_member(archive, info, part, cap, where)
    if target is not None and part is not None:
        os.replace(part, target)
    return VerifiedZip(
        zip_path=zip_path,
        zip_size=zip_path.stat().st_size,
        member_name=info.filename,
        csv_size=size,
        csv_sha256=digest,
        csv_path=target,
    )


def _single_safe_member(
    archive: zipfile.ZipFile, where: str, cap: int, expected_suffix: str
) -> zipfile.ZipInfo:
    limits = ZipLimits(max_member_bytes=cap, max_total_bytes=cap, suffix=expected_suffix)
    return check_members(archive, where, limits)[0]


def check_zip_bytes(data: bytes, limits: ZipLimits, *, where: str) -> list[zipfile.ZipInfo]:
    """`check_members` of an in-memory zip (structure only, nothing inflated)."""
    with _open_bytes(data, where) as archive:
        return check_members(archive, where, limits)


def read_members(data: bytes, limits: ZipLimits, *, where: str) -> dict[str, bytes]:
    """Every member of an in-memory zip, inflated under ``limits`` (CRC and sizes checked).

    Memory stays bounded by the caps: a member is refused as soon as it produces more
    bytes than its share of ``max_total_bytes`` or than ``max_ratio`` allows.
    """
    out: dict[str, bytes] = {}
    with _open_bytes(data, where) as archive:
        left = limits.max_total_bytes
        for info in check_members(archive, where, limits):
            cap = min(limits.max_member_bytes, left)
            body = b"".join(member_chunks(archive, info, cap, where, limits))
            left -= len(body)
            out[info.filename] = body
    return out


def _open_bytes(data: bytes, where: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptZipError(f"{where} is not a readable zip ({exc})", path=where) from None


def _scan_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    part: Path | None,
    cap: int,
    where: str,
) -> tuple[int, str]:
    """Read the member to its end (CRC and size checked there), optionally writing it."""
    digest = hashlib.sha256()
    size = 0
    try:
        with _open_or_null(part) as out:
            for chunk in member_chunks(archive, info, cap, where):
                size += len(chunk)
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
    except BaseException:
        _unlink(part)
        raise
    return size, digest.hexdigest()


@contextlib.contextmanager
def _open_or_null(path: Path | None) -> Iterator[BinaryIO | None]:
    if path is None:
        yield None
        return
    with open(path, "wb") as handle:
        yield handle


def _unlink(path: Path | None) -> None:
    if path is None:
        return
    path.unlink(missing_ok=True)
