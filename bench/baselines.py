"""The two reference points every pipeline benchmark compares against.

- **floor**: what no tool can beat on this machine: a plain streaming HTTP GET of the
  result zips, then DuckDB's own ``read_csv`` turning the same CSVs into Parquet.
- **naive**: what a typical script does: the same download, ``pandas.read_csv`` and
  ``DataFrame.to_sql`` into the warehouse.

They take paths and URLs, not our library objects, so they measure the baseline and
nothing of ours.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pandas as pd
import requests
import sqlalchemy as sa

CHUNK_BYTES = 1 << 20


def plain_download(url: str, dest: Path, headers: Mapping[str, str] | None = None) -> int:
    """Stream ``url`` into ``dest`` with one GET; returns the bytes written."""
    written = 0
    with requests.get(url, headers=dict(headers or {}), stream=True, timeout=(10, 300)) as resp:
        resp.raise_for_status()
        with dest.open("wb") as out:
            for chunk in resp.iter_content(CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
    return written


def extract_csvs(zips: Iterable[Path], into: Path) -> list[Path]:
    """Unzip every archive's members into ``into`` (DuckDB cannot read zip members)."""
    into.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for archive in zips:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                out.append(Path(zf.extract(name, into)))
    return out


def duckdb_csv_to_parquet(csvs: list[Path], parquet_path: Path) -> int:
    """DuckDB's own CSV reader straight into one zstd Parquet file; returns the row count."""
    parquet_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        files = [str(p) for p in csvs]
        con.execute(
            "COPY (SELECT * FROM read_csv(?, header = true, all_varchar = false)) "
            "TO ? (FORMAT parquet, COMPRESSION zstd)",
            [files, str(parquet_path)],
        )
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [str(parquet_path)]).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def pandas_to_sql(zips: Iterable[Path], url: str, table: str) -> int:
    """``pandas.read_csv`` each zip and append it with ``DataFrame.to_sql``; returns rows."""
    engine = sa.create_engine(url)
    rows = 0
    try:
        for i, archive in enumerate(zips):
            frame = pd.read_csv(archive, dtype={"id": "string"})
            frame.to_sql(table, engine, if_exists="replace" if i == 0 else "append", index=False)
            rows += len(frame)
    finally:
        engine.dispose()
    return rows
