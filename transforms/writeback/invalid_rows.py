"""The invalid rows a dry run found, one line per problem cell, as Parquet (and CSV).

`invalid_rows` turns pre-flight issues (``cell_checks.ISSUE_SCHEMA``, rows numbered in the
source's order) into the file's columns: ``row`` (0-based position in the source), ``key``
(the mapping's key column, else the row number), ``column`` (the input column; empty for a
problem of the row as a whole, such as a parent without children), ``field`` (the Zoho field),
``value`` (the cell as text), ``code`` (Zoho's error code) and ``reason``. A row with two bad
cells has two lines. `write_invalid_rows` writes them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

INVALID_ROWS_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("key", pa.string()),
        ("column", pa.string()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("code", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass(frozen=True)
class InvalidRowsFiles:
    """Where a dry run wrote its invalid rows, and how many lines."""

    parquet: Path
    csv: Path | None
    lines: int


def invalid_rows(issues: pa.Table) -> pa.Table:
    """Pre-flight ``issues`` as the invalid-rows table (see the module docstring)."""
    table = pa.table(
        {
            "row": issues.column("row"),
            "key": issues.column("key"),
            "column": issues.column("column"),
            "field": issues.column("api_name"),
            "value": issues.column("value"),
            "code": issues.column("code"),
            "reason": issues.column("message"),
        },
        schema=INVALID_ROWS_SCHEMA,
    )
    return table.sort_by([("row", "ascending"), ("column", "ascending")])


def write_invalid_rows(issues: pa.Table, parquet: Path, *, with_csv: bool) -> InvalidRowsFiles:
    """Write `invalid_rows` to ``parquet`` (and the same lines to a ``.csv`` beside it)."""
    table = invalid_rows(issues)
    parquet.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, parquet)
    csv_path = parquet.with_suffix(".csv") if with_csv else None
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.column_names)
            for line in table.to_pylist():
                writer.writerow(["" if v is None else v for v in line.values()])
    return InvalidRowsFiles(parquet=parquet, csv=csv_path, lines=table.num_rows)


def first_invalid(issues: pa.Table, count: int) -> list[dict[str, Any]]:
    """The first ``count`` lines of `invalid_rows` (what the terminal shows)."""
    return list(invalid_rows(issues).slice(0, count).to_pylist())
