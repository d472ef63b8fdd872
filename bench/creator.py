"""Creator benchmark: a 1,000,000-record report exported by ``zoho-etl`` against its floor.

    python -m bench.creator [--records 1000000] [--out bench/results/creator.json]

One simulator process (``bench.sim_process``, lowest CPU priority) serves the Creator report
``order-desk/All_Orders`` with N generated records; bulk jobs finish at once (Zoho's own job
time is not the client's work). Then, in one run:

1. **ours**: ``zoho-etl export --product creator --full`` as a subprocess: meta calls, the
   bulk read chain (5 jobs of 200,000), each zip typed into Arrow (app date format and time
   zone, lookups, multi-select lists, decimals), merged into DuckDB and committed into the
   report's Delta table, with the ledger. Its wall time and peak RSS (sampled from outside).
2. **floor**: the same finished jobs' zips by plain GET, unzipped, DuckDB ``read_csv`` ->
   Parquet (untyped: no dates, no lookups, no merge): what no tool can beat on this machine.

"Client work" of ours is its whole wall time, process start and meta calls included (the
jobs take no simulated time, but the simulator writes each result zip when it is first asked
for, on this machine's cores, inside ours' figure; the floor reads zips already written).
Output: ``bench/results/creator.json`` (or ``--out``) and a printed summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import requests

from bench.e2e_targets import Target
from bench.harness import PeakRSS, measure, ratio, write_result
from bench.sim_process import SimProcess, sim_process

APP, FORM, REPORT, OWNER = "order-desk", "Order", "All_Orders", "jason18"
TABLE = "creator_order_desk_All_Orders"
RESULT_PATH = "/creator/v2.1/bulk/{owner}/{app}/report/{report}/read/{job_id}/result"


def configure_creator(sim: SimProcess, records: int) -> None:
    changes = {
        "records": {f"{APP}/{FORM}": records},
        "job_seconds": [0.0, 0.0],
        "bulk_downloads_per_minute": 1000,
        "bulk_creates_per_minute": 1000,
    }
    response = requests.patch(f"{sim.base_url}/_sim/creator/config", json=changes, timeout=30)
    response.raise_for_status()


def run_ours(sim: SimProcess, data: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "cli", "export", "--product", "creator", "--app", APP,
        "--report", REPORT, "--full", "--simulator", sim.base_url, "--data-dir", str(data),
    ]  # fmt: skip
    env = {**os.environ, "ZOHO_ETL_POLL_INTERVAL": "0.05", "ZOHO_CREATOR_OWNER": OWNER}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with PeakRSS(process.pid) as rss:
        out, err = process.communicate(timeout=3600)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"zoho-etl export failed ({process.returncode}): {err.decode()[-500:]}")
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        counted = con.execute(f'SELECT count(*), count(DISTINCT id) FROM "{TABLE}"').fetchone()
        rows, distinct = counted if counted else (0, 0)
        jobs = [
            str(r[0])
            for r in con.execute(
                "SELECT job_id FROM zoho_etl.jobs WHERE product = 'creator' AND state = 'loaded' "
                "ORDER BY page"
            ).fetchall()
        ]
    return {
        "wall_seconds": round(seconds, 3),
        "peak_rss_mb": rss.peak_mb,
        "rows": int(rows),
        "distinct_ids": int(distinct),
        "jobs": jobs,
        "stdout_tail": out.decode(errors="replace")[-800:],
    }


def run_floor(sim: SimProcess, jobs: list[str], work: Path) -> dict[str, Any]:
    from bench.baselines import duckdb_csv_to_parquet, extract_csvs, plain_download

    token, api_domain = sim.access_token("us-enterprise")
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    zips: list[Path] = []
    (work / "zips").mkdir(parents=True, exist_ok=True)
    with measure("floor") as stage:
        for job_id in jobs:
            path = RESULT_PATH.format(owner=OWNER, app=APP, report=REPORT, job_id=job_id)
            dest = work / "zips" / f"{job_id}.zip"
            plain_download(api_domain.rstrip("/") + path, dest, headers)
            zips.append(dest)
        csvs = extract_csvs(zips, work / "csv")
        stage.rows = duckdb_csv_to_parquet(csvs, work / "floor.parquet")
    return {
        "wall_seconds": round(stage.seconds, 3),
        "peak_rss_mb_of_bench_process": stage.peak_rss_mb,
        "rows": stage.rows,
    }


def run(records: int) -> dict[str, Any]:
    """Ours and the floor on a ``records``-record report: the result document's payload."""
    with tempfile.TemporaryDirectory(prefix="bench-creator-") as tmp, sim_process(nice=19) as sim:
        configure_creator(sim, records)
        ours = run_ours(sim, Path(tmp) / "data")
        floor = run_floor(sim, ours["jobs"], Path(tmp) / "floor")
    return {
        "records": records,
        "ours": ours,
        "floor": floor,
        "ours_over_floor_wall": ratio(ours["wall_seconds"], floor["wall_seconds"]),
        "each_record_once": ours["rows"] == ours["distinct_ids"] == records,
    }


def targets(payload: dict[str, Any]) -> list[Target]:
    """Every record exactly once; peak RSS of ours within 1 GB."""
    return [
        Target(
            "creator_each_record_once",
            "Creator report: rows = distinct ids = records (1 = yes)",
            1.0 if payload["each_record_once"] else 0.0,
            1.0,
            "min",
        ),
        Target(
            "creator_peak_rss_mb",
            f"peak RSS of ours on the {payload['records']:,}-record Creator report (MB)",
            payload["ours"].get("peak_rss_mb"),
            1024.0,
            "max",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    payload = run(args.records)
    path = write_result("creator", payload, args.out)
    summary = {k: v for k, v in payload.items() if k not in ("ours",)}
    summary["ours"] = {k: v for k, v in payload["ours"].items() if k != "stdout_tail"}
    print(json.dumps(summary, indent=2))
    print(f"written to {path}")
    return 0 if payload["each_record_once"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
