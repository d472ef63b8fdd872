"""Streaming a result zip from disk, optionally broken by a fault.

``drop``: send ``fraction`` of the bytes, then abort the connection (the declared
Content-Length is never reached). ``truncate``: a complete response carrying only the first
``fraction`` of the zip. ``corrupt``: the whole zip with the CRC-32 of its entry flipped in
the local header and the central directory, so unzipping fails its CRC check.
"""

from __future__ import annotations

import logging
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

BLOCK = 1 << 20


class DroppedConnection(ConnectionAbortedError):
    """Raised inside a response body to make the server drop the connection (a fault)."""


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging a traceback for a connection dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, DroppedConnection):
                return False
            group = getattr(error, "exceptions", None)
            if group and any(isinstance(e, DroppedConnection) for e in group):
                return False
            error = error.__cause__ or error.__context__
        return True


def quiet_dropped_connections() -> None:
    """Install the filter on uvicorn's error logger (once)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def crc_patches(path: Path) -> dict[int, bytes]:
    """Byte offsets -> replacement bytes that corrupt the first entry's CRC-32."""
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
        central = archive.start_dir
    bad = struct.pack("<I", info.CRC ^ 0xFFFFFFFF)
    return {info.header_offset + 14: bad, central + 16: bad}


def stream_file(
    path: Path,
    limit: int | None = None,
    patches: dict[int, bytes] | None = None,
    drop_after: int | None = None,
) -> Iterator[bytes]:
    """Yield the file in blocks, up to ``limit`` bytes, with ``patches`` applied."""
    sent = 0
    end = path.stat().st_size if limit is None else limit
    with path.open("rb") as handle:
        while sent < end:
            if drop_after is not None and sent >= drop_after:
                raise DroppedConnection(f"fault: dropped after {sent} bytes")
            size = min(BLOCK, end - sent)
            if drop_after is not None:
                size = min(size, max(drop_after - sent, 1))
            block = bytearray(handle.read(size))
            if not block:
                return
            for offset, data in (patches or {}).items():
                for i, byte in enumerate(data):
                    pos = offset + i - sent
                    if 0 <= pos < len(block):
                        block[pos] = byte
            sent += len(block)
            yield bytes(block)
