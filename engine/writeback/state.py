"""Where a write stands, per chunk, in the ledger: table ``write_chunks``.

One row per (write key, chunk): the chunk's zip digest, Zoho's file id once uploaded,
``create_sent`` *before* the create-job call goes out, the job id once Zoho answered,
then ``done`` / ``failed`` with the per-file counts. The write key depends on the mapping
and the rows' content, not their order (``engine.writeback.run.write_key``), so a re-run
of the same rows finds the saved progress. Each step is saved before and after it runs,
so a crash at any point leaves either a chunk to re-send (never uploaded or never
created) or a job to poll; a create sent whose answer was lost is refused until the user
names the job (``--attach-job``). The zips themselves stay files next to the write.

The table lives beside the ledger's own tables (same database, schema and prefix) and is
created on first use.
"""

from __future__ import annotations

import json
import threading

import sqlalchemy as sa

from engine.ledger import Ledger, utcnow
from engine.writeback.driver import ChunkRun

TABLE = "write_chunks"


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
        with self._lock:
            self._ensure()
            query = sa.select(self.table).where(self.table.c.write_key == write_key)
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(self.table.c.chunk)).mappings().all()
        return [
            ChunkRun(
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
            for r in rows
        ]

    def save(self, write_key: str, module: str, run: ChunkRun) -> None:
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
