"""Rows for a write-back from a warehouse query: exactly one read-only SELECT, nothing else.

A ``sql:`` source is text a user typed, run on the warehouse that also holds the exported
tables and the job ledger, so it must not be able to change anything:

- `single_select` parses the text with DuckDB's parser (``duckdb.extract_statements``,
  PostgreSQL's grammar in origin) and refuses anything but exactly one statement of type
  SELECT (``WITH ... SELECT``, ``VALUES`` and ``FROM t`` are SELECTs) before anything runs;
- the query then runs in a READ ONLY transaction that is rolled back, so what the parser lets
  through but writes (a data-modifying CTE, ``nextval``, ``SELECT ... FOR UPDATE``) fails
  without effect;
- on PostgreSQL it is sent as a prepared statement, which holds exactly one command (the
  server refuses more), in case DuckDB's parser cannot read a PostgreSQL-only query: such a
  query is then left to the server's own checks instead of being refused.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from transforms.warehouse.base import Warehouse
from transforms.writeback.errors import WritebackFatal


class SourceQueryError(WritebackFatal):
    """A ``sql:`` source is not exactly one read-only SELECT, or the warehouse refused it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


def single_select(sql: str, *, strict: bool = True) -> str:
    """``sql`` without surrounding blanks if it is exactly one SELECT; else `SourceQueryError`.

    With ``strict=False`` a text DuckDB's parser cannot read is passed on (PostgreSQL-only
    syntax; the server's prepared statement and read-only transaction still guard it).
    """
    text = sql.strip()
    if not text:
        raise SourceQueryError("only a SELECT can be a source; the query is empty")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        if strict:
            raise SourceQueryError(f"the query does not parse ({_first_line(exc)})") from None
        return text
    if len(statements) != 1:
        raise SourceQueryError(
            f"the query holds {len(statements)} statements; a source is exactly one SELECT"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SourceQueryError(f"only a SELECT can be a source, not a {kind.name} statement")
    return text


def read_select(warehouse: Warehouse, sql: str) -> pa.Table:
    """Run one SELECT on the warehouse (`Warehouse.query_arrow`: READ ONLY, rolled back)."""
    query = single_select(sql, strict=not warehouse.refuses_many_statements)
    try:
        return warehouse.query_arrow(query)
    except warehouse.driver_errors as exc:
        raise SourceQueryError(f"{type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
