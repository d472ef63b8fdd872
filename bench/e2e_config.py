"""The end-to-end benchmark's configuration and command line (``python -m bench --help``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_PG_DATABASE = "zoho_bench_e2e"
SKIPPABLE = ("naive-duckdb", "naive-postgres", "ours-postgres")


@dataclass(frozen=True)
class E2EConfig:
    records: int = 1_000_000
    product: str = "crm"
    module: str = "Leads"
    per_page: int = 200_000
    job_seconds: tuple[float, float] = (20.0, 120.0)
    time_scale: float = 0.05
    soak_records: int | None = None
    pg_url: str | None = DEFAULT_PG_URL
    pg_database: str = DEFAULT_PG_DATABASE
    skip: tuple[str, ...] = ()
    #: to_sql through duckdb-engine runs at a few thousand rows/s: measure it on this many
    #: pages (None = all) and compare rows/s
    naive_duckdb_pages: int | None = 1
    #: CPU priority of the simulator process (``nice``): Zoho writes its result files on its
    #: own servers, so on this 2-core machine the simulator takes only the CPU the measured
    #: client leaves idle (0 lets it compete, as before)
    sim_nice: int = 19
    #: ours waits for Zoho's bulk-read callbacks (a receiver on loopback) instead of polling
    callbacks: bool = False
    seed: int | None = None
    profile: bool = False
    #: also run the real Prefect flow (DuckDB) to measure Prefect's own overhead
    prefect: bool = False
    #: time scale of the serial-against-windows leg (``bench.windows``); None skips it
    windows_time_scale: float | None = None
    windows_jobs_at_once: int = 5
    #: records of the Creator report leg (``bench.creator``); None skips it
    creator_records: int | None = None
    workdir: Path | None = None
    keep: bool = False

    @property
    def scaled_job_seconds(self) -> tuple[float, float]:
        low, high = self.job_seconds
        return (round(low * self.time_scale, 3), round(high * self.time_scale, 3))


def parse_args(argv: list[str] | None) -> tuple[E2EConfig, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="End-to-end benchmark: our export against its floor and the naive way.",
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--product", default="crm", choices=("crm", "recruit"))
    parser.add_argument("--module", default="Leads")
    parser.add_argument("--per-page", type=int, default=200_000)
    parser.add_argument(
        "--job-seconds", type=float, nargs=2, default=(20.0, 120.0), metavar=("MIN", "MAX")
    )
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--soak", action="store_true", help="also run ours at --soak-records")
    parser.add_argument("--soak-records", type=int, default=10_000_000)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="'' skips PostgreSQL")
    parser.add_argument("--pg-database", default=DEFAULT_PG_DATABASE)
    parser.add_argument("--skip", action="append", default=[], choices=SKIPPABLE)
    parser.add_argument(
        "--naive-duckdb-pages",
        type=int,
        default=1,
        help="pages the naive DuckDB leg loads (to_sql there is very slow); 0 = all",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--sim-nice",
        type=int,
        default=19,
        help="CPU priority (nice) of the simulator process; 0 lets it compete with ours",
    )
    parser.add_argument(
        "--callbacks",
        action="store_true",
        help="ours receives Zoho's bulk-read callbacks (on loopback) instead of polling",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile ours (slows it)")
    parser.add_argument(
        "--prefect", action="store_true", help="also run the real Prefect export flow (DuckDB)"
    )
    parser.add_argument(
        "--windows-time-scale",
        type=float,
        default=0.25,
        help="Zoho job times (20-120 s) x this in the serial-against-windows leg",
    )
    parser.add_argument(
        "--no-windows", action="store_true", help="skip the serial-against-windows leg"
    )
    parser.add_argument(
        "--creator-records",
        type=int,
        default=1_000_000,
        help="records of the Creator report leg (bench.creator)",
    )
    parser.add_argument("--no-creator", action="store_true", help="skip the Creator report leg")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep workdir and scratch DB")
    parser.add_argument("--out", type=Path, default=None, help="result JSON path")
    args = parser.parse_args(argv)
    if args.time_scale <= 0 or args.windows_time_scale <= 0:
        parser.error("--time-scale and --windows-time-scale must be positive")
    config = E2EConfig(
        records=args.records,
        product=args.product,
        module=args.module,
        per_page=args.per_page,
        job_seconds=(args.job_seconds[0], args.job_seconds[1]),
        time_scale=args.time_scale,
        soak_records=args.soak_records if args.soak else None,
        pg_url=args.pg_url or None,
        pg_database=args.pg_database,
        skip=tuple(args.skip),
        naive_duckdb_pages=args.naive_duckdb_pages or None,
        seed=args.seed,
        sim_nice=args.sim_nice,
        callbacks=args.callbacks,
        profile=args.profile,
        prefect=args.prefect,
        windows_time_scale=None if args.no_windows else args.windows_time_scale,
        creator_records=None if args.no_creator else args.creator_records,
        workdir=args.workdir,
        keep=args.keep,
    )
    return config, args.out
