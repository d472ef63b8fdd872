"""The member-level rules of every zip the tool reads, and the streaming inflate of one member.

`ZipLimits` is the set of caps one kind of zip is read under; `check_members` applies the
structural rules (member count, safe names, no encryption, declared sizes, compression
ratio) before anything is inflated. `iter_member_bytes` inflates one member with ISA-L
straight from its data offset, counting real bytes against the cap and the ratio as it
goes, and checks CRC-32 and size at the member's end; `open_member` wraps it as a file for
readers such as ``transforms.csv_reader``. Archive-level verification (`verify_zip`,
`inspect_zip`, `read_members`) lives in `connectors.zipcheck`.
"""

from __future__ import annotations

import io
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


def data_offset(raw: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where the member's (compressed) data starts, after its checked local header."""
    raw.seek(info.header_offset)
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if signature != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile("bad local file header")
    offset: int = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    return offset


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
        yield from member_chunks(archive, info, max_uncompressed_bytes, where)


def open_member(
    zip_path: Path,
    member: str,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
) -> BinaryIO:
    """``iter_member_bytes`` as a buffered binary file (errors are raised by ``read``)."""
    chunks = iter_member_bytes(zip_path, member, max_uncompressed_bytes=max_uncompressed_bytes)
    return io.BufferedReader(_ChunkStream(chunks), buffer_size=_CHUNK)


def member_chunks(
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
        raw.seek(data_offset(raw, info))
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
            crc = isal_zlib.crc32(chunk, crc)  # ISA-L: same CRC-32 as zlib, faster
            yield chunk
        if inflater is not None and not inflater.eof:
            raise EOFError("compressed data ends before the end of the deflate stream")
    except (zipfile.BadZipFile, zlib.error, _ISAL_ERROR, EOFError, struct.error) as exc:
        raise damaged_error(where, name, exc) from None
    if crc != info.CRC:
        raise damaged_error(where, name, zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}"))
    if size != info.file_size:
        raise damaged_error(
            where, name, zipfile.BadZipFile(f"{size} bytes, {info.file_size} declared")
        )


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
        raise damaged_error(where, info.filename, exc) from None


def damaged_error(where: str, name: str, exc: BaseException) -> CorruptZipError:
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
