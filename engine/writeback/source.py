"""The rows of a write-back: a Parquet path, ``table:NAME`` or ``sql:QUERY`` on the
warehouse.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import SourceError
from engine.runtime import Runtime


def read_source(rt: Runtime, source: str) -> pa.Table:
    """The rows to write, from a Parquet path, ``table:NAME`` or ``sql:QUERY``."""
    if source.startswith("table:"):
        name = source.removeprefix("table:").strip()
        if not name.replace("_", "").isalnum():
            raise SourceError(source, "table names are letters, digits and underscores")
        return _query(rt, source, f'SELECT * FROM "{name}"')
    if source.startswith("sql:"):
        return _query(rt, source, source.removeprefix("sql:"))
    path = Path(source)
    if not path.exists():
        raise SourceError(source, "no such file or directory")
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SourceError(source, f"not a Parquet file or dataset ({exc})") from None


def _query(rt: Runtime, source: str, sql: str) -> pa.Table:
    """One read-only SELECT on the warehouse (``transforms.writeback.sql_source``)."""
    from transforms.writeback.sql_source import SourceQueryError, read_select

    try:
        with rt.load_lock:
            return read_select(rt.warehouse, sql)
    except SourceQueryError as exc:
        raise SourceError(source, exc.problem) from None
