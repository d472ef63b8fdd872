"""Delta deletion vectors written by hand, and the table's log as a local writer needs it.

A deletion vector marks rows of a data file as deleted without rewriting the file (Delta
protocol, "Deletion Vectors"): a merge that replaces 10,000 rows spread over a 1,000,000-row
table writes those rows once, in a new file, and one small vector per file that held an old
version, instead of rewriting every file (`transforms.lake.local_merge`). delta-rs reads
them (`DeltaTable.scan`, `deletion_vectors`), honours them in its own merges, deletes and
OPTIMIZE, but cannot write them, hence this module.

The on-disk format, as the protocol defines it:

- a vector is a 64-bit *RoaringBitmapArray* in the portable serialization: the magic number
  1681511377 (int32, little-endian), the number of 32-bit bitmaps (int64), then per bitmap its
  high 32 bits (uint32) and a standard portable 32-bit Roaring bitmap (cookie 12346, no run
  containers: array containers up to 4,096 values, bitmap containers above);
- it is stored in a file ``deletion_vector_<uuid>.bin`` in the table's root: a version byte
  (1), the vector's size (int32, big-endian), the vector, its CRC-32 (big-endian);
- the descriptor in the *add* action names the file by the Z85 encoding of its UUID
  (storage type ``u``), the vector's offset in the file (1) and size, and its cardinality.

`TableLog` replays the table's log (the last checkpoint, then the JSON commits after it) for
what delta-rs' API does not expose: each live file's whole *add* action, deletion vector
included, which a commit replacing that vector must repeat in its *remove* action.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow.parquet as pq

DELETION_VECTORS = "deletionVectors"
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_MAGIC = 1681511377
_NO_RUN_COOKIE = 12346
_ARRAY_LIMIT = 4096
#: features a legacy protocol's writer version implies, to list when moving to table features
_LEGACY_WRITER_FEATURES = {
    2: ["appendOnly", "invariants"],
    3: ["checkConstraints"],
    4: ["changeDataFeed", "generatedColumns"],
    5: ["columnMapping"],
    6: ["identityColumns"],
}


def z85(data: bytes) -> str:
    """ZeroMQ's Z85 encoding (the protocol's for a vector file's UUID); 4-byte multiples."""
    if len(data) % 4:
        raise ValueError("Z85 encodes whole 4-byte words")
    out: list[str] = []
    for (word,) in struct.iter_unpack(">I", data):
        chars = []
        for _ in range(5):
            word, digit = divmod(word, 85)
            chars.append(_Z85[digit])
        out.extend(reversed(chars))
    return "".join(out)


def _roaring32(values: np.ndarray) -> bytes:
    """The portable serialization of a 32-bit Roaring bitmap of sorted, distinct ``values``."""
    keys = (values >> 16).astype(np.uint16)
    lows = (values & 0xFFFF).astype(np.uint16)
    unique_keys, starts = np.unique(keys, return_index=True)
    ends = [*starts[1:], len(values)]
    header = struct.pack("<II", _NO_RUN_COOKIE, len(unique_keys))
    describe = b"".join(
        struct.pack("<HH", int(k), int(e - s) - 1)
        for k, s, e in zip(unique_keys, starts, ends, strict=True)
    )
    bodies = []
    for s, e in zip(starts, ends, strict=True):
        part = lows[s:e]
        if len(part) <= _ARRAY_LIMIT:
            bodies.append(part.astype("<u2").tobytes())
        else:
            bits = np.zeros(1 << 16, dtype=bool)
            bits[part] = True
            bodies.append(np.packbits(bits, bitorder="little").tobytes())
    offset = len(header) + len(describe) + 4 * len(bodies)
    offsets = []
    for body in bodies:
        offsets.append(struct.pack("<I", offset))
        offset += len(body)
    return header + describe + b"".join(offsets) + b"".join(bodies)


def serialize(positions: np.ndarray) -> bytes:
    """The RoaringBitmapArray of the row ``positions`` (any order, repeats allowed)."""
    values = np.unique(np.asarray(positions, dtype=np.uint64))
    highs = np.unique(values >> np.uint64(32))
    parts = [struct.pack("<iq", _MAGIC, len(highs))]
    for high in highs:
        chunk = values[(values >> np.uint64(32)) == high] & np.uint64(0xFFFFFFFF)
        parts.append(struct.pack("<I", int(high)))
        parts.append(_roaring32(chunk.astype(np.uint32)))
    return b"".join(parts)


def write_vector(directory: Path, positions: np.ndarray) -> dict[str, Any]:
    """Write a vector file of ``positions`` into the table at ``directory``; its descriptor."""
    values = np.unique(np.asarray(positions, dtype=np.uint64))
    data = serialize(values)
    name = uuid.uuid4()
    body = b"\x01" + struct.pack(">i", len(data)) + data + struct.pack(">I", zlib.crc32(data))
    (directory / f"deletion_vector_{name}.bin").write_bytes(body)
    return {
        "storageType": "u",
        "pathOrInlineDv": z85(name.bytes),
        "offset": 1,
        "sizeInBytes": len(data),
        "cardinality": len(values),
    }


@dataclass
class TableLog:
    """A local table's current version, protocol and live files (whole add actions)."""

    directory: Path
    version: int = -1
    protocol: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, directory: Path) -> TableLog:
        log = cls(directory)
        log_dir = directory / "_delta_log"
        start = log._read_checkpoint(log_dir)
        names = (p.name for p in log_dir.glob("*.json"))
        numbers = (int(n[:20]) for n in names if len(n) == 25 and n[:20].isdigit())
        commits = sorted(n for n in numbers if n > start)
        for number in commits:
            with (log_dir / f"{number:020d}.json").open(encoding="utf-8") as commit:
                for line in commit:
                    if line.strip():
                        log._apply(json.loads(line))
            log.version = number
        return log

    def _read_checkpoint(self, log_dir: Path) -> int:
        pointer = log_dir / "_last_checkpoint"
        if not pointer.exists():
            return -1
        version = int(json.loads(pointer.read_text(encoding="utf-8"))["version"])
        parts = sorted(log_dir.glob(f"{version:020d}.checkpoint*.parquet"))
        for part in parts:
            rows = pq.read_table(part, columns=["add", "protocol"]).to_pylist()
            for row in rows:
                self._apply({k: v for k, v in row.items() if v is not None})
        self.version = version
        return version

    def _apply(self, action: dict[str, Any]) -> None:
        if "protocol" in action:
            self.protocol = action["protocol"]
        elif "add" in action:
            add = dict(action["add"])
            if isinstance(add.get("partitionValues"), list):  # a checkpoint's map
                add["partitionValues"] = dict(add["partitionValues"])
            add.pop("tags", None)
            self.files[unquote(add["path"])] = {k: v for k, v in add.items() if v is not None}
        elif "remove" in action:
            self.files.pop(unquote(action["remove"]["path"]), None)

    def protocol_with_deletion_vectors(self) -> dict[str, Any] | None:
        """The protocol action that enables deletion vectors; None when already enabled."""
        readers = list(self.protocol.get("readerFeatures") or [])
        writers = list(self.protocol.get("writerFeatures") or [])
        if DELETION_VECTORS in readers:
            return None
        if int(self.protocol.get("minWriterVersion", 2)) < 7:
            for version, implied in _LEGACY_WRITER_FEATURES.items():
                if int(self.protocol.get("minWriterVersion", 2)) >= version:
                    writers.extend(implied)
        if int(self.protocol.get("minReaderVersion", 1)) == 2:
            readers.append("columnMapping")
        return {
            "minReaderVersion": 3,
            "minWriterVersion": 7,
            "readerFeatures": sorted({*readers, DELETION_VECTORS}),
            "writerFeatures": sorted({*writers, DELETION_VECTORS}),
        }

    def commit(self, actions: list[dict[str, Any]]) -> int:
        """Write ``actions`` as the next version, atomically (a finished file or none);
        `FileExistsError` when another writer committed that version first."""
        version = self.version + 1
        log_dir = self.directory / "_delta_log"
        temporary = log_dir / f".zoho-etl-{uuid.uuid4()}.json.tmp"
        text = "".join(json.dumps(a, separators=(",", ":")) + "\n" for a in actions)
        with temporary.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, log_dir / f"{version:020d}.json")
        finally:
            temporary.unlink()
        self.version = version
        return version


def unreferenced_files(directory: Path, older_than: float) -> list[Path]:
    """Data and vector files in the table at ``directory`` that no commit or checkpoint in
    its log names, written before ``older_than`` (a POSIX time): those of a write that died
    before its commit, and vectors whose commits the log no longer keeps. delta-rs' VACUUM
    removes the files the log records as removed; its ``full`` mode would find these too,
    but it also deletes the vector files live rows depend on."""
    log_dir = directory / "_delta_log"
    named: set[str] = set()

    def note(action: dict[str, Any] | None) -> None:
        if action:
            named.add(unquote(str(action.get("path"))))
            named.add(str((action.get("deletionVector") or {}).get("pathOrInlineDv")))

    for commit in log_dir.glob("*.json"):
        for line in commit.read_text(encoding="utf-8").splitlines():
            if line.strip():
                action = json.loads(line)
                note(action.get("add"))
                note(action.get("remove"))
    for checkpoint in log_dir.glob("*.checkpoint*.parquet"):
        for column in ("add", "remove"):
            if column in pq.read_schema(checkpoint).names:
                for row in pq.read_table(checkpoint, columns=[column]).column(0).to_pylist():
                    note(row)
    unused = []
    for path in [*directory.glob("*.parquet"), *directory.glob("deletion_vector_*.bin")]:
        if path.suffix == ".bin":
            key = z85(uuid.UUID(path.stem.removeprefix("deletion_vector_")).bytes)
        else:
            key = path.name
        if key not in named and path.stat().st_mtime < older_than:
            unused.append(path)
    return unused


__all__ = [
    "DELETION_VECTORS",
    "TableLog",
    "serialize",
    "unreferenced_files",
    "write_vector",
    "z85",
]
