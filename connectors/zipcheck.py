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

Members are inflated with ISA-L (``isal``, ~2x zlib on a 200,000-row page) straight from
the member's data offset (``iter_member_bytes``; ``open_member`` wraps it as a file for
readers such as ``transforms.csv_reader``); CRC-32 and size are checked at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from isal import isal_zlib

from connectors.errors import CorruptZipError, ZipRejectedError

#: 2 GiB of CSV is ~4x a full 200,000-row page with 200 wide fields: generous but bounded.
DEFAULT_MAX_UNCOMPRESSED = 2 * 1024**3
#: CSV with ids deflates 5-20x; deflate itself cannot pass ~1032x, which is what bombs use. A
#: bulk read result streams to disk under a size cap, so its ratio check is a loose one.
DEFAULT_MAX_RATIO = 1000.0
#: below this many bytes out the ratio is not checked (a small, repetitive CSV is no bomb)
DEFAULT_RATIO_FLOOR = 64 * 1024**2
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
_LOCAL_SIGNATURE = b"PK\x03\x04"
#: isal's stub declares ``error`` as an instance; it is an exception class.
_ISAL_ERROR = cast("type[Exception]", isal_zlib.error)


@dataclass(frozen=True)
class ZipLimits:
    """The caps one kind of zip is read under (see the module docstring)."""

    max_members: int = 1
    max_member_bytes: int = DEFAULT_MAX_UNCOMPRESSED
    max_total_bytes: int = DEFAULT_MAX_UNCOMPRESSED
    max_ratio: float = DEFAULT_MAX_RATIO
    ratio_floor_bytes: int = DEFAULT_RATIO_FLOOR
    suffix: str = ".csv"
    kind: str = "a bulk read result"

    def __post_init__(self) -> None:
        if self.max_members < 1 or self.max_member_bytes < 1 or self.max_total_bytes < 1:
            raise ValueError(f"zip limits must be positive, got {self!r}")


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


def safe_member_name(name: str) -> bool:
    """True for a plain relative file name with no traversal or absolute parts."""
    if not name or "\x00" in name:
        return False
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or _DRIVE.match(normalized):
        return False
    parts = normalized.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        return False
    return posixpath.normpath(normalized) == normalized


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


def _data_offset(raw: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where the member's (compressed) data starts, after its checked local header."""
    raw.seek(info.header_offset)
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if signature != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile("bad local file header")
    offset: int = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    return offset


def _check_member_extent(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    """The member's local header is intact and its data ends before the central directory."""
    raw = archive.fp
    try:
        if raw is None:
            raise zipfile.BadZipFile("archive is closed")
        if _data_offset(raw, info) + info.compress_size > archive.start_dir:
            raise zipfile.BadZipFile("member data runs past the central directory")
    except (zipfile.BadZipFile, struct.error, OSError) as exc:
        raise _damaged(where, info.filename, exc) from None


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


def check_members(archive: zipfile.ZipFile, where: str, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Every member's name, encryption and declared size, and their count and total."""
    members = archive.infolist()
    names = [m.filename for m in members]
    if (
        not 1 <= len(members) <= limits.max_members
        or any(m.is_dir() for m in members)
        or len(set(names)) != len(names)
    ):
        wanted = "exactly one" if limits.max_members == 1 else f"1 to {limits.max_members}"
        raise ZipRejectedError(
            f"{where} has {len(names)} members {names[:5]}; {limits.kind} holds {wanted} "
            f"distinct {limits.suffix} file(s)",
            code="ZIP_MEMBER_COUNT",
            path=where,
        )
    for info in members:
        _check_member(info, where, limits)
    total = sum(m.file_size for m in members)
    if total > limits.max_total_bytes:
        raise ZipRejectedError(
            f"{where} declares {total} bytes in all, over the cap of {limits.max_total_bytes} "
            "(possible zip bomb)",
            code="ZIP_TOO_LARGE",
            path=where,
        )
    return members


def _check_member(info: zipfile.ZipInfo, where: str, limits: ZipLimits) -> None:
    name = info.filename
    if not safe_member_name(name):
        raise ZipRejectedError(
            f"{where} member name {name!r} is absolute or escapes the target "
            "directory (path traversal)",
            code="ZIP_PATH_TRAVERSAL",
            path=where,
        )
    if not name.lower().endswith(limits.suffix):
        raise ZipRejectedError(
            f"{where} member {name!r} is not a {limits.suffix} file",
            code="ZIP_UNEXPECTED_MEMBER",
            path=where,
        )
    if info.flag_bits & 0x1:
        raise ZipRejectedError(
            f"{where} member {name!r} is encrypted; {limits.kind} never is",
            code="ZIP_ENCRYPTED",
            path=where,
        )
    if info.file_size > limits.max_member_bytes:
        raise ZipRejectedError(
            f"{where} member {name!r} declares {info.file_size} bytes, over the "
            f"cap of {limits.max_member_bytes} (possible zip bomb)",
            code="ZIP_TOO_LARGE",
            path=where,
        )
    _check_ratio(info.file_size, info.compress_size, name, where, limits)


def _check_ratio(out: int, consumed: int, name: str, where: str, limits: ZipLimits) -> None:
    if out > limits.ratio_floor_bytes and out > limits.max_ratio * max(consumed, 1):
        raise ZipRejectedError(
            f"{where} member {name!r} expands {out} bytes from {consumed} compressed, over "
            f"the ratio of {limits.max_ratio:.0f}:1 (zip bomb)",
            code="ZIP_RATIO",
            path=where,
        )


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
            body = b"".join(_member_chunks(archive, info, cap, where, limits))
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
            for chunk in _member_chunks(archive, info, cap, where):
                size += len(chunk)
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
    except BaseException:
        _unlink(part)
        raise
    return size, digest.hexdigest()


def iter_member_bytes(
    zip_path: Path,
    member: str,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
) -> Iterator[bytes]:
    """Yield ``member``'s uncompressed bytes (chunks of at most 1 MiB), inflated with ISA-L.

    Raises ``CorruptZipError`` (unreadable zip, truncated data, bad CRC or size, at the end
    of the member) and ``ZipRejectedError`` (``ZIP_TOO_LARGE``: more bytes than the cap).
    """
    where = zip_path.name
    try:
        archive = zipfile.ZipFile(zip_path)
        info = archive.getinfo(member)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptZipError(f"{where} is not a readable zip ({exc})", path=where) from None
    with archive:
        yield from _member_chunks(archive, info, max_uncompressed_bytes, where)


def open_member(
    zip_path: Path,
    member: str,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
) -> BinaryIO:
    """``iter_member_bytes`` as a buffered binary file (errors are raised by ``read``)."""
    chunks = iter_member_bytes(zip_path, member, max_uncompressed_bytes=max_uncompressed_bytes)
    return io.BufferedReader(_ChunkStream(chunks), buffer_size=_CHUNK)


def _member_chunks(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    cap: int,
    where: str,
    limits: ZipLimits | None = None,
) -> Iterator[bytes]:
    name = info.filename
    raw = archive.fp
    limits = limits or ZipLimits(max_member_bytes=cap, max_total_bytes=cap)
    if info.flag_bits & 0x1:
        _check_member(info, where, limits)  # raises ZIP_ENCRYPTED
    if raw is None or info.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}:
        yield from _zipfile_chunks(archive, info, cap, where, limits)
        return
    size = 0
    crc = 0
    try:
        raw.seek(_data_offset(raw, info))
        inflater = isal_zlib.decompressobj(-15) if info.compress_type else None
        left = info.compress_size
        while left > 0 or (inflater is not None and inflater.unconsumed_tail):
            if inflater is not None and inflater.unconsumed_tail:
                chunk = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
            else:
                data = raw.read(min(_CHUNK, left))
                if not data:
                    raise EOFError("member data ends early")
                left -= len(data)
                chunk = data if inflater is None else inflater.decompress(data, _CHUNK)
            if not chunk:
                continue
            size += len(chunk)
            if size > cap:
                raise ZipRejectedError(
                    f"{where} member {name!r} expands past the cap of {cap} "
                    "bytes (declared size was wrong: possible zip bomb)",
                    code="ZIP_TOO_LARGE",
                    path=where,
                )
            _check_ratio(size, info.compress_size - left, name, where, limits)
            crc = isal_zlib.crc32(chunk, crc)  # ISA-L: ~6x zlib's speed, same CRC-32
            yield chunk
        if inflater is not None and not inflater.eof:
            raise EOFError("compressed data ends before the end of the deflate stream")
    except (zipfile.BadZipFile, zlib.error, _ISAL_ERROR, EOFError, struct.error) as exc:
        raise _damaged(where, name, exc) from None
    if crc != info.CRC:
        raise _damaged(where, name, zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}"))
    if size != info.file_size:
        raise _damaged(where, name, zipfile.BadZipFile(f"{size} bytes, {info.file_size} declared"))


def _zipfile_chunks(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, where: str, limits: ZipLimits
) -> Iterator[bytes]:
    """Other compression methods: zipfile reads and checks the CRC."""
    size = 0
    try:
        with archive.open(info) as src:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise ZipRejectedError(
                        f"{where} member {info.filename!r} expands past the cap of {cap} "
                        "bytes (declared size was wrong: possible zip bomb)",
                        code="ZIP_TOO_LARGE",
                        path=where,
                    )
                _check_ratio(size, info.compress_size, info.filename, where, limits)
                yield chunk
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise _damaged(where, info.filename, exc) from None


def _damaged(where: str, name: str, exc: BaseException) -> CorruptZipError:
    return CorruptZipError(
        f"{where} member {name!r} is damaged ({type(exc).__name__}: {exc})", path=where
    )


class _ChunkStream(io.RawIOBase):
    """A read-only raw stream over an iterator of byte chunks (closing closes the iterator)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        super().close()


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
