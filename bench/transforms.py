"""Transforms benchmark: a 1,000,000-row bulk-read export through our loaders vs floor and naive.

    python -m bench.transforms [--rows 1000000] [--per-page 200000] [--data DIR] [--pg-url URL]

One run, same export, every figure measured here:

- **export**: ``rows`` CRM Leads records (the simulator's generators and page writer: 34
  columns of every Zoho type, multi-line and non-Latin text) as ``rows / per_page`` zipped
  CSV pages, exactly what the simulator serves; cached in ``--data`` between runs;
- **ours**: `transforms.load_page` per page into Parquet only, into DuckDB only, into
  PostgreSQL only, and into Parquet + DuckDB for one page and for all pages (memory);
- **floor**: DuckDB's own ``read_csv`` -> Parquet on the same CSVs (`bench.baselines`);
- **naive**: ``pandas.read_csv`` + ``DataFrame.to_sql`` into PostgreSQL (`bench.baselines`).

Each measurement runs in its own worker process (``--worker``), so its peak RSS is its own;
the worker times its work (interpreter start-up and imports excluded) and the parent samples
its RSS. Stages of a few seconds run ``SHORT_STAGE_RUNS`` times (median reported). Every
PostgreSQL stage (ours and naive) starts after ``sync`` + ``CHECKPOINT``, untimed.
Targets (issue 4): Parquet within 2x the floor; PostgreSQL load >= 10x faster than naive;
peak memory < 1 GB and nearly flat from one page to all pages. JSON goes to
``bench/results/transforms.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import median_run, ratio, run_worker_process, write_result

if TYPE_CHECKING:
    from transforms import PageLoadResult

DEFAULT_DATA = Path("/tmp/zoho-bench-transforms")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MODULE = "Leads"
OURS_TABLE = "bench_transforms_leads"
#: stages of a few seconds run this many times (median reported, every run listed): on this
#: shared 2-core machine a neighbour's burst can double a few-second, two-core measurement,
#: while the ~70 s naive stage averages such bursts out
SHORT_STAGE_RUNS = 3
NAIVE_TABLE = "bench_transforms_naive"
EXTRACTED_AT = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)


# -- the export ---------------------------------------------------------------------------
def prepare_export(data: Path, rows: int, per_page: int) -> Path:
    """Write (or reuse) the export: page zips, extracted CSVs and the module's field metadata."""
    export = data / f"leads-{rows}-{per_page}"
    manifest = export / "manifest.json"
    if manifest.exists():
        return export
    shutil.rmtree(export, ignore_errors=True)
    (export / "zips").mkdir(parents=True)
    from simulator.config import SimConfig
    from simulator.pages import write_page
    from simulator.state import SimState

    state = SimState(SimConfig(records={MODULE: rows, "Accounts": 300}))
    try:
        schema = state.schema("us-enterprise", "crm", MODULE)
        store = state.store("us-enterprise", "crm", MODULE)
        assert schema is not None
        assert store is not None
        metadata = [f.metadata(str(i), "1") for i, f in enumerate(schema.fields)]
        pages = []
        for number in range((rows + per_page - 1) // per_page):
            job_id = f"48768760{number + 1:011d}"
            outcome = write_page(
                store,
                list(schema.names),
                None,
                number * per_page,
                0,
                per_page,
                export / "zips" / f"{job_id}.zip",
                f"{job_id}.csv",
            )
            pages.append({"job_id": job_id, "rows": outcome.count})
    finally:
        state.close()
    from bench.baselines import extract_csvs

    extract_csvs(sorted((export / "zips").glob("*.zip")), export / "csv")
    manifest.write_text(json.dumps({"rows": rows, "pages": pages, "fields": metadata}, indent=1))
    return export


def _manifest(export: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((export / "manifest.json").read_text())
    return loaded


# -- workers (each runs in its own process) ------------------------------------------------
def _fields(export: Path) -> list[Any]:
    from connectors.fields import FieldSpec

    return [FieldSpec.from_api(raw) for raw in _manifest(export)["fields"]]


def _zips(export: Path, pages: int) -> list[Path]:
    return sorted((export / "zips").glob("*.zip"))[:pages]


#: seconds the warehouse spent staging / merging, summed over the pages of one worker
BREAKDOWN: dict[str, float] = {}


def load_pages(
    export: Path,
    pages: int,
    work: Path,
    *,
    parquet: bool,
    warehouse: str | None,
    after_page: Callable[[Path, PageLoadResult], None] | None = None,
) -> int:
    """The first ``pages`` pages through ``load_page`` (Parquet in ``work/lake``); rows loaded.
    ``after_page(zip, result)`` runs after each page."""
    from transforms import load_page, open_warehouse

    fields = _fields(export)
    target = open_warehouse(warehouse) if warehouse else None
    rows = 0
    try:
        for zip_path in _zips(export, pages):
            result = load_page(
                zip_path,
                fields,
                product="crm",
                module=MODULE,
                job_id=zip_path.stem,
                extracted_at=EXTRACTED_AT,
                parquet_root=work / "lake" if parquet else None,
                warehouse=target,
                table=OURS_TABLE,
            )
            if result.rows_rejected:
                raise RuntimeError(f"{result.rows_rejected} rows rejected in {zip_path.name}")
            rows += result.rows_loaded
            if after_page is not None:
                after_page(zip_path, result)
            for part in ("stage_seconds", "merge_seconds"):
                value = getattr(result, part)
                if value is not None:
                    BREAKDOWN[part] = round(BREAKDOWN.get(part, 0.0) + value, 3)
    finally:
        if target is not None:
            target.close()
    return rows


def _drop_tables(pg_url: str, *, settle: bool = False) -> None:
    """Drop both benchmark tables; ``settle``: then flush every dirty page to disk.

    Settling (untimed set-up of every PostgreSQL stage, ours and naive alike) writes out what
    earlier stages left in the page cache and the WAL (``sync`` + ``CHECKPOINT``), so that
    no stage pays for the disk writes of the one before it.
    """
    import psycopg
    import sqlalchemy as sa

    params = sa.engine.make_url(pg_url).translate_connect_args(username="user", database="dbname")
    with psycopg.connect(autocommit=True, **params) as con:
        for table in (OURS_TABLE, NAIVE_TABLE):
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
        if settle:
            os.sync()
            con.execute("CHECKPOINT")
            os.sync()


def _import_libraries() -> None:
    """Import what the measured code imports, before the clock starts, for every side alike.

    The baselines' modules (pandas, SQLAlchemy, DuckDB) are imported with `bench.baselines`
    before timing; ours (`transforms`) gets the same treatment. Only imports: no connection,
    no data read.
    """
    import transforms  # noqa: F401


def run_worker(name: str, export: Path, pages: int, work: Path, pg_url: str) -> dict[str, Any]:
    """One measurement; returns rows and seconds (set-up and clean-up not timed)."""
    from bench import baselines

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    duckdb_url = f"duckdb:///{work / 'warehouse.duckdb'}"
    csvs = sorted((export / "csv").glob("*.csv"))[:pages]
    jobs: dict[str, Callable[[], int]] = {
        "floor_csv_to_parquet": lambda: baselines.duckdb_csv_to_parquet(csvs, work / "f.parquet"),
        "ours_csv_to_parquet": lambda: load_pages(
            export, pages, work, parquet=True, warehouse=None
        ),
        "ours_load_duckdb": lambda: load_pages(
            export, pages, work, parquet=False, warehouse=duckdb_url
        ),
        "ours_load_postgresql": lambda: load_pages(
            export, pages, work, parquet=False, warehouse=pg_url
        ),
        "ours_parquet_and_duckdb": lambda: load_pages(
            export, pages, work, parquet=True, warehouse=duckdb_url
        ),
        "naive_pandas_to_sql_postgresql": lambda: baselines.pandas_to_sql(
            _zips(export, pages), pg_url, NAIVE_TABLE
        ),
    }
    if "postgresql" in name:
        _drop_tables(pg_url, settle=True)
    _import_libraries()
    started = time.perf_counter()
    rows = jobs[name]()
    seconds = time.perf_counter() - started
    if "postgresql" in name:
        _drop_tables(pg_url)
    shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "seconds": round(seconds, 3), **BREAKDOWN}


# -- the parent ----------------------------------------------------------------------------
def measure_in_worker(
    name: str, export: Path, pages: int, data: Path, pg_url: str
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.transforms",
        "--worker",
        name,
        "--export",
        str(export),
        "--pages",
        str(pages),
        "--work",
        str(data / "work"),
        "--pg-url",
        pg_url,
    ]
    result = run_worker_process(name, command)
    result["pages"] = pages
    seconds = result["seconds"]
    result["rows_per_second"] = round(result["rows"] / seconds) if seconds else 0
    print(f"{name:34s} pages={pages} {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Transforms benchmark (see module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.export, args.pages, args.work, args.pg_url)))
        return 0

    started = time.perf_counter()
    load_before = os.getloadavg()
    export = prepare_export(args.data, args.rows, args.per_page)
    pages = len(_manifest(export)["pages"])
    print(f"export ready in {time.perf_counter() - started:.1f}s: {export}", file=sys.stderr)

    def run(name: str, n_pages: int = pages) -> dict[str, Any]:
        return measure_in_worker(name, export, n_pages, args.data, args.pg_url)

    def run_median(name: str) -> dict[str, Any]:
        """The median of SHORT_STAGE_RUNS runs; every run's seconds are kept in the result."""
        return median_run(run(name) for _ in range(SHORT_STAGE_RUNS))

    stages = {
        "floor_csv_to_parquet": run_median("floor_csv_to_parquet"),
        "ours_csv_to_parquet": run_median("ours_csv_to_parquet"),
        "ours_load_duckdb": run("ours_load_duckdb"),
        "ours_load_postgresql": run_median("ours_load_postgresql"),
        "naive_pandas_to_sql_postgresql": run("naive_pandas_to_sql_postgresql"),
        "ours_parquet_and_duckdb_one_page": run("ours_parquet_and_duckdb", 1),
        "ours_parquet_and_duckdb_all_pages": run("ours_parquet_and_duckdb"),
    }
    rows = {name: stage["rows"] for name, stage in stages.items()}
    expected_rows = _manifest(export)["rows"]
    one_page_rows = stages["ours_parquet_and_duckdb_one_page"]["rows"]
    seconds = {name: stage["seconds"] for name, stage in stages.items()}
    peaks = {name: stage["peak_rss_mb"] for name, stage in stages.items()}
    parquet_vs_floor = ratio(seconds["ours_csv_to_parquet"], seconds["floor_csv_to_parquet"])
    pg_speedup = ratio(seconds["naive_pandas_to_sql_postgresql"], seconds["ours_load_postgresql"])
    ours_peak = max(v for k, v in peaks.items() if k.startswith("ours_"))
    growth = ratio(
        peaks["ours_parquet_and_duckdb_all_pages"], peaks["ours_parquet_and_duckdb_one_page"]
    )
    payload: dict[str, Any] = {
        "export": {
            "module": f"crm/{MODULE}",
            "rows": expected_rows,
            "pages": pages,
            "per_page": args.per_page,
            "columns": len(_manifest(export)["fields"]) + 1,
            "zip_bytes": sum(p.stat().st_size for p in (export / "zips").glob("*.zip")),
            "csv_bytes": sum(p.stat().st_size for p in (export / "csv").glob("*.csv")),
        },
        "stages": stages,
        "ratios": {
            "parquet_seconds_vs_floor": parquet_vs_floor,
            "postgresql_speedup_vs_naive": pg_speedup,
            "duckdb_load_seconds_vs_floor_parquet": ratio(
                seconds["ours_load_duckdb"], seconds["floor_csv_to_parquet"]
            ),
            "peak_rss_growth_one_page_to_all_pages": growth,
        },
        "targets": {
            "parquet_within_2x_floor": parquet_vs_floor is not None and parquet_vs_floor <= 2.0,
            "postgresql_at_least_10x_naive": pg_speedup is not None and pg_speedup >= 10.0,
            "peak_rss_under_1gb": ours_peak < 1024,
            "peak_rss_nearly_flat": growth is not None and growth <= 1.25,
        },
        "checks": {
            "all_rows_loaded": all(
                v == (one_page_rows if k.endswith("one_page") else expected_rows)
                for k, v in rows.items()
            ),
        },
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "notes": (
            "Each stage runs in its own process; seconds exclude interpreter start-up and "
            "library imports (both sides); every PostgreSQL stage starts after sync + "
            "CHECKPOINT (no stage pays for the disk writes of the one before); the floor, "
            "ours_csv_to_parquet and ours_load_postgresql run 3 times each (median seconds, "
            "runs_seconds lists all, peak RSS the highest): a neighbour's burst on this shared "
            "2-core machine can double a few-second measurement, the ~70 s naive run averages "
            "it out. Peak RSS "
            "is that process's (PostgreSQL server memory not included). 'ours_load_*' include "
            "reading the zipped CSV, typing, staging and the merge on id in one transaction "
            "(PostgreSQL: a page of ids new to the table is copied straight into it, in that "
            "transaction); "
            "the naive baseline appends without a key or merge. The floor reads the already "
            "extracted CSVs; ours reads the zips directly (decompression included). The machine "
            "is shared: load_average shows how busy it was (2 cores)."
        ),
    }
    path = write_result("transforms", payload, args.out)
    print(json.dumps({"result": str(path), **payload["ratios"], **payload["targets"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
