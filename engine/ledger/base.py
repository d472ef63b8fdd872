"""The ledger's connection: the tables of :mod:`engine.ledger.schema` on one SQLAlchemy engine.

Each table's operations are a mixin over :class:`LedgerBase` (``extracts.py``, ``jobs.py``,
``watermarks.py``, ``credits.py``); :class:`engine.ledger.Ledger` composes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import sqlalchemy as sa

from engine.errors import LedgerError
from engine.ledger.schema import SCHEMA, _tables


class LedgerBase:
    """The ledger on a SQLAlchemy engine (the warehouse's, or a separate database).

    Thread-safe: writes are serialised with a lock (DuckDB allows one writer per table
    transaction within a process; PostgreSQL would not need it but it costs nothing).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        has_schema = engine.dialect.name in {"postgresql", "duckdb"}
        self.schema = SCHEMA if has_schema else None
        self.prefix = "" if has_schema else f"{SCHEMA}_"
        self.metadata = sa.MetaData()
        t = _tables(self.metadata, schema=self.schema, prefix=self.prefix)
        self.extracts = t["extracts"]
        self.jobs = t["jobs"]
        self.watermarks_table = t["watermarks"]
        self.page_watermarks = t["page_watermarks"]
        self.credit_spend = t["credit_spend"]
        self.credit_locks = t["credit_locks"]
        self._lock = threading.RLock()
        self._orgs_with_lock_row: set[str] = set()

    @classmethod
    def from_url(cls, url: str) -> Self:
        ledger = cls(sa.create_engine(url))
        ledger.create_schema()
        return ledger

    def table_name(self, name: str) -> str:
        """Qualified name of a ledger table, for queries users paste."""
        table = f"{self.prefix}{name}"
        return f"{self.schema}.{table}" if self.schema else table

    def create_schema(self) -> None:
        try:
            with self._lock, self.engine.begin() as conn:
                if self.schema:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                self.metadata.create_all(conn)
                self._add_missing_columns(conn)
        except sa.exc.DBAPIError as exc:
            if _is_file_locked(exc):
                raise LedgerError("(ledger)", _file_locked_message(exc)) from None
            raise

    def _add_missing_columns(self, conn: sa.Connection) -> None:
        """Columns added to a ledger table after a ledger was created (nullable ones only)."""
        for table in self.metadata.sorted_tables:
            have = self._column_names(conn, table.name)
            for column in table.columns:
                if column.name in have or not column.nullable:
                    continue
                kind = column.type.compile(dialect=conn.dialect)
                name = f'"{self.schema}"."{table.name}"' if self.schema else f'"{table.name}"'
                conn.execute(sa.text(f'ALTER TABLE {name} ADD COLUMN "{column.name}" {kind}'))

    def _column_names(self, conn: sa.Connection, table: str) -> set[str]:
        if self.schema is None:  # SQLite: no information_schema
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}
        # information_schema, not the inspector: duckdb-engine cannot run PostgreSQL's
        # reflection queries
        rows = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = :schema AND table_name = :table"
            ),
            {"schema": self.schema, "table": table},
        )
        return {str(r[0]) for r in rows}

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._lock, self.engine.begin() as conn:
            yield conn


#: Reservations that collided (DuckDB conflict, PostgreSQL serialisation failure) are tried
#: again this many times in all before giving up with a ``LedgerError``.
RESERVE_ATTEMPTS = 50
#: SQLSTATEs of PostgreSQL errors that mean "another transaction won: try again".
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})


def _is_write_conflict(exc: sa.exc.DBAPIError) -> bool:
    """A transaction that lost to a concurrent writer and may simply be run again."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    if type(orig).__name__ == "TransactionException":  # DuckDB: "Conflict on update!"
        return True
    if type(orig).__name__ == "ConstraintException":  # DuckDB: the same new row twice
        return True
    return "database is locked" in str(orig)  # SQLite's busy writer


def _is_file_locked(exc: sa.exc.DBAPIError) -> bool:
    return type(exc.orig).__name__ == "IOException" and "Could not set lock" in str(exc.orig)


def _file_locked_message(exc: sa.exc.DBAPIError) -> str:
    holder = str(exc.orig).split("Conflicting lock is held in", 1)[-1].split(". See", 1)[0]
    return (
        "the DuckDB ledger file is open in another process"
        f" ({holder.strip()}); DuckDB allows one writing process per file: wait for that run "
        "to end, or keep the ledger in PostgreSQL to run flows side by side"
    )
