"""Where a write stands, per chunk, in the ledger: table ``write_chunks``.

One row per (write key, chunk): the chunk's zip digest, Zoho's file id once uploaded,
``create_sent`` *before* the create-job call goes out, the job id once Zoho answered,
then ``done`` / ``failed`` with the per-file counts. The write key depends on the mapping
and the rows' content, not their order (``engine.writeback.run.write_key``), so a re-run
of the same rows finds the saved progress. Each step is saved before and after it runs,
so a crash at any point leaves either a chunk to re-send (never uploaded or never
created) or a job to poll; a create sent whose answer was lost is refused until the user
names the job (``--attach-job``). The zips, their row positions and the result zips stay
files in the write's directory (`SavedWrite`).

The table lives beside the ledger's own tables (same database, schema and prefix) and is
created on first use.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from engine.ledger import Ledger, utcnow
from transforms.writeback.csv_builder import Chunk
from transforms.writeback.errors import ResumeStateError

TABLE = "write_chunks"
#: The progress file of writes saved before the ledger kept them; refused, not resumed.
LEGACY_MANIFEST = "manifest.json"


@dataclass
class ChunkRun:
    """What happened to one chunk (one bulk write job), as saved in ``write_chunks``."""

    index: int
    rows: int
    zipped_bytes: int
    sha256: str
    file_id: str | None = None
    create_sent: bool = False
    job_id: str | None = None
    state: str = "built"  # planned, built, uploaded, created, done, failed
    failure: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteMeta:
    """What a single-module write was built from, checked before it is resumed."""

    module: str
    mapping_digest: str
    source_rows: int
    max_rows: int


class WriteChunks:
    """The ``write_chunks`` ledger table: load and save the `ChunkRun` of each chunk."""

    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.engine
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            f"{ledger.prefix}{TABLE}",
            self.metadata,
            sa.Column("write_key", sa.String(64), primary_key=True),
            sa.Column("chunk", sa.Integer, primary_key=True),
            sa.Column("module", sa.String(100), nullable=False),
            sa.Column("rows", sa.Integer, nullable=False),
            sa.Column("zipped_bytes", sa.BigInteger, nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("file_id", sa.String(200)),
            sa.Column("create_sent", sa.Boolean, nullable=False),
            sa.Column("job_id", sa.String(200)),
            sa.Column("state", sa.String(20), nullable=False),
            sa.Column("failure", sa.Text),
            sa.Column("counts", sa.Text),
            sa.Column("updated_at", sa.DateTime),
            # single-module writes only (`WriteMeta`); null for parent/child jobs
            sa.Column("mapping_digest", sa.String(64)),
            sa.Column("source_rows", sa.Integer),
            sa.Column("max_rows", sa.Integer),
            schema=ledger.schema,
        )
        self._lock = threading.Lock()
        self._created = False

    def _ensure(self) -> None:
        if not self._created:
            self.metadata.create_all(self.engine)
            self._created = True

    def load(self, write_key: str) -> list[ChunkRun]:
        """The saved chunks of a write in chunk order (empty: never started)."""
        return [_run(r) for r in self._rows(write_key)]

    def load_meta(self, write_key: str) -> WriteMeta | None:
        """What the saved single-module write was built from (None: nothing saved)."""
        rows = self._rows(write_key)
        if not rows or rows[0]["mapping_digest"] is None:
            return None
        first = rows[0]
        return WriteMeta(
            str(first["module"]),
            str(first["mapping_digest"]),
            int(first["source_rows"]),
            int(first["max_rows"]),
        )

    def _rows(self, write_key: str) -> Sequence[sa.RowMapping]:
        with self._lock:
            self._ensure()
            query = sa.select(self.table).where(self.table.c.write_key == write_key)
            with self.engine.connect() as conn:
                return conn.execute(query.order_by(self.table.c.chunk)).mappings().all()

    def save(
        self, write_key: str, module: str, run: ChunkRun, meta: WriteMeta | None = None
    ) -> None:
        """Record one chunk's progress (replacing what was saved for it)."""
        values = {
            "write_key": write_key,
            "chunk": run.index,
            "module": module,
            "rows": run.rows,
            "zipped_bytes": run.zipped_bytes,
            "sha256": run.sha256,
            "file_id": run.file_id,
            "create_sent": run.create_sent,
            "job_id": run.job_id,
            "state": run.state,
            "failure": run.failure,
            "counts": json.dumps(run.counts, sort_keys=True),
            "updated_at": utcnow(),
            "mapping_digest": meta.mapping_digest if meta else None,
            "source_rows": meta.source_rows if meta else None,
            "max_rows": meta.max_rows if meta else None,
        }
        t = self.table
        where = sa.and_(t.c.write_key == write_key, t.c.chunk == run.index)
        with self._lock:
            self._ensure()
            with self.engine.begin() as conn:
                conn.execute(sa.delete(t).where(where))
                conn.execute(sa.insert(t).values(**values))

    def forget(self, write_key: str) -> None:
        """Drop a write's saved progress (its rows may then be sent again)."""
        with self._lock:
            self._ensure()
            with self.engine.begin() as conn:
                conn.execute(sa.delete(self.table).where(self.table.c.write_key == write_key))


def _run(r: sa.RowMapping) -> ChunkRun:
    return ChunkRun(
        index=int(r["chunk"]),
        rows=int(r["rows"]),
        zipped_bytes=int(r["zipped_bytes"]),
        sha256=str(r["sha256"]),
        file_id=r["file_id"],
        create_sent=bool(r["create_sent"]),
        job_id=r["job_id"],
        state=str(r["state"]),
        failure=r["failure"],
        counts=json.loads(r["counts"] or "{}"),
    )


class SavedWrite:
    """A resumable single-module write: its chunks' progress in the ledger under ``key``,
    its zips, row positions and result zips as files in ``directory``.
    """

    def __init__(self, ledger: Ledger, key: str, directory: str | Path) -> None:
        self.chunks = WriteChunks(ledger)
        self.key = key
        self.directory = Path(directory)
        self.meta: WriteMeta | None = None

    def start(self, meta: WriteMeta, chunks: Sequence[Chunk], runs: Sequence[ChunkRun]) -> None:
        """Save a new write's zips and chunks; refuse if one is saved under this key."""
        self.refuse_legacy()
        if self.chunks.load(self.key):
            raise ResumeStateError(
                self.directory,
                f"the ledger already holds a write under key {self.key}; resume it with "
                "resume_write or pick a new key",
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        for chunk in chunks:
            chunk.write(self.directory)
            np.save(self.directory / f"chunk-{chunk.index:04d}.rows.npy", chunk.rows)
        self.meta = meta
        for run in runs:
            self.save(run)

    def load(self) -> tuple[WriteMeta, list[ChunkRun]]:
        """The saved write's meta and chunks; refused if nothing is saved under the key."""
        self.refuse_legacy()
        meta = self.chunks.load_meta(self.key)
        if meta is None:
            raise ResumeStateError(
                self.directory, f"the ledger holds no single-module write under key {self.key}"
            )
        self.meta = meta
        return meta, self.chunks.load(self.key)

    def refuse_legacy(self) -> None:
        """A write saved by the version that kept a manifest file is not resumed."""
        manifest = self.directory / LEGACY_MANIFEST
        if manifest.exists():
            raise ResumeStateError(
                self.directory,
                f"{manifest} is from an earlier version, which cannot be resumed; check "
                "its jobs in Zoho, then delete the directory to write the rows again",
            )

    def save(self, run: ChunkRun) -> None:
        """Record one chunk's progress."""
        assert self.meta is not None
        self.chunks.save(self.key, self.meta.module, run, self.meta)

    def zips(self, runs: Sequence[ChunkRun]) -> list[Chunk]:
        """The saved chunks, each checked against its saved digest."""
        assert self.meta is not None
        out = []
        for run in runs:
            data = (self.directory / f"chunk-{run.index:04d}.zip").read_bytes()
            if hashlib.sha256(data).hexdigest() != run.sha256:
                raise ResumeStateError(self.directory, f"chunk {run.index}'s zip was modified")
            rows = np.load(self.directory / f"chunk-{run.index:04d}.rows.npy")
            out.append(Chunk(run.index, rows, f"{self.meta.module}.csv", data))
        return out

    def result_path(self, index: int) -> Path:
        """Where chunk ``index``'s result zip is kept."""
        return self.directory / f"chunk-{index:04d}.result.zip"
