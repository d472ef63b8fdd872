"""The job ledger: every bulk job, extract, watermark and credit spent, in the warehouse.

:class:`Ledger` is one object over all tables, composed of one mixin per table, so callers
write ``ledger.plan_page(...)`` whatever table it touches. Where to look:

- ``schema.py``: the tables, the job state machine, the record types and their row converters;
- ``base.py``: the engine, schema creation and the write lock;
- ``extracts.py``, ``jobs.py``, ``watermarks.py``, ``credits.py``: one table's operations each.
"""

from __future__ import annotations

from engine.ledger.credits import CreditsTable
from engine.ledger.extracts import ExtractsTable
from engine.ledger.jobs import JobsTable
from engine.ledger.schema import (
    SCHEMA,
    SUPERSEDED,
    ExtractRecord,
    ExtractState,
    JobRecord,
    JobState,
    Watermark,
    extract_from_row,
    job_from_row,
    summarise_jobs,
    to_naive_utc,
    utcnow,
)
from engine.ledger.watermarks import WatermarksTable


class Ledger(ExtractsTable, JobsTable, WatermarksTable, CreditsTable):
    """Job ledger on a SQLAlchemy engine (the warehouse's, or a separate database).

    Thread-safe: writes are serialised with a lock (DuckDB allows one writer per table
    transaction within a process; PostgreSQL would not need it but it costs nothing).
    """


__all__ = [
    "SCHEMA",
    "SUPERSEDED",
    "ExtractRecord",
    "ExtractState",
    "JobRecord",
    "JobState",
    "Ledger",
    "Watermark",
    "extract_from_row",
    "job_from_row",
    "summarise_jobs",
    "to_naive_utc",
    "utcnow",
]
