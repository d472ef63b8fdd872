"""Verify a bulk read result zip (``verify_zip``) and, on request, extract its CSV safely.

The bulk read client keeps the verified zip (``transforms`` read it directly);
``verify_and_extract`` also writes the CSV next to it.

A bulk read result is ``{job_id}.zip`` holding one ``{job_id}.csv``. Before anything is
written, the archive must have exactly one member, whose name is a plain relative ``.csv``
name (no ``..``, no absolute path, no drive letter, no directory), whose declared size is
under the cap. While extracting, the real number of bytes is counted against the cap
(declared sizes can lie) and zipfile checks the CRC at the end of the member. On any
failure the partial file is removed: nothing is extracted.

``CorruptZipError`` (retriable: download again) covers a damaged download: not a zip, bad
CRC, truncated data. ``ZipRejectedError`` (fatal) covers archives that are well-formed but
unsafe or unexpected.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from connectors.errors import CorruptZipError, ZipRejectedError

#: 2 GiB of CSV is ~4x a full 200,000-row page with 200 wide fields: generous but bounded.
DEFAULT_MAX_UNCOMPRESSED = 2 * 1024**3
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class VerifiedZip:
    """A zip that passed every check; ``csv_*`` describe its (uncompressed) CSV member.

    ``csv_path`` is set only when the CSV was extracted.
    """

    zip_path: Path
    zip_size: int
    member_name: str
    csv_size: int
    csv_sha256: str
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


def _verify(
    zip_path: Path,
    dest_dir: Path | None,
    cap: int,
    expected_suffix: str,
    target_name: str | None,
) -> VerifiedZip:
    where = zip_path.name
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptZipError(f"{where} is not a readable zip ({exc})", path=where) from None
    with archive:
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
    members = archive.infolist()
    if len(members) != 1 or members[0].is_dir():
        names = [m.filename for m in members]
        raise ZipRejectedError(
            f"{where} has {len(names)} members {names[:5]}; a bulk read result holds "
            "exactly one CSV",
            code="ZIP_MEMBER_COUNT",
            path=where,
        )
    info = members[0]
    if not safe_member_name(info.filename):
        raise ZipRejectedError(
            f"{where} member name {info.filename!r} is absolute or escapes the target "
            "directory (path traversal)",
            code="ZIP_PATH_TRAVERSAL",
            path=where,
        )
    if not info.filename.lower().endswith(expected_suffix):
        raise ZipRejectedError(
            f"{where} member {info.filename!r} is not a {expected_suffix} file",
            code="ZIP_UNEXPECTED_MEMBER",
            path=where,
        )
    if info.file_size > cap:
        raise ZipRejectedError(
            f"{where} member {info.filename!r} declares {info.file_size} bytes, over the "
            f"cap of {cap} (possible zip bomb)",
            code="ZIP_TOO_LARGE",
            path=where,
        )
    return info


def _scan_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    part: Path | None,
    cap: int,
    where: str,
) -> tuple[int, str]:
    """Read the member to its end (zipfile checks the CRC there), optionally writing it."""
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(info) as src, _open_or_null(part) as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise ZipRejectedError(
                        f"{where} member {info.filename!r} expands past the cap of {cap} "
                        "bytes (declared size was wrong: possible zip bomb)",
                        code="ZIP_TOO_LARGE",
                        path=where,
                    )
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
    except ZipRejectedError:
        _unlink(part)
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        # zipfile raises BadZipFile("Bad CRC-32 ...") at the end of a damaged member.
        _unlink(part)
        raise CorruptZipError(
            f"{where} member {info.filename!r} is damaged ({type(exc).__name__}: {exc})",
            path=where,
        ) from None
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
