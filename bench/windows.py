"""Serial pages against parallel ``Created_Time`` windows, with Zoho's real job durations.

    python -m bench.windows [--records 1000000] [--time-scale 0.25] [--jobs-at-once 5]

One simulator process (normal CPU priority, ``--sim-nice 0``) serves N Leads with
200,000-record pages and bulk jobs lasting Zoho's 20-120 s times ``--time-scale`` (1 =
unscaled; the default 0.25 keeps the whole run near 5 minutes on this machine). The poll policy
and the download limit are scaled by the same factor (``bench.e2e_worker.scaled_settings``).
Unlike ``bench.e2e``, the simulator is not niced: a job completes only once its zip is
written, and five jobs writing at once at nice 19 on a busy 2-core machine got so little CPU
that they took 90-180 s instead of the configured 5-30 s (Zoho's servers do that work, not
ours), which measured the machine, not the overlap of the jobs.

1. **serial**: the first full export (``active_bulk_jobs`` 1): page N+1 needs page N's
   ``next_page_token``, so the jobs run one after another (each next job is created while the
   previous page loads);
2. **parallel**: the next full export (same ledger, the table dropped first), planned as
   ``Created_Time`` windows from the records the first run wrote to Parquet and run as
   concurrent jobs (``engine.partitions``).

Reported per run: wall seconds (Zoho's time included), the jobs' server durations, the time at
least one job was processing (the union of their intervals), client work (wall minus that
union: what ours did while Zoho was idle), credits (the simulator's count), and rows: loaded,
in the table, distinct ids, and the simulator's own count; the load average before and after.
Targets (``targets``): parallel wall <= 1.5 x the longest job + client work (i.e. the jobs'
processing overlapped), credits <= the minimum (``bench.e2e_targets.credit_minimum``) + 5 %,
every record exactly once. ``make bench`` runs this too (``bench.e2e``: ``--windows-*``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import requests

from bench.e2e_targets import Target, credit_minimum
from bench.e2e_worker import scaled_settings
from bench.harness import ratio, write_result
from bench.sim_process import SimProcess, sim_process

ORG = "us-enterprise"
MODULE = "Leads"
JOB_SECONDS = (20.0, 120.0)


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of ``[start, end]`` intervals."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def job_intervals(sim: SimProcess, since: float) -> list[tuple[float, float]]:
    """``(created, completed)`` of the simulator's jobs created after ``since``."""
    jobs = requests.get(f"{sim.base_url}/_sim/jobs", timeout=30).json()["jobs"]
    return sorted(
        (float(j["created_at"]), float(j["completed_at"]))
        for j in jobs
        if j.get("created_at") is not None
        and j.get("completed_at") is not None
        and float(j["created_at"]) >= since
    )


def credits_used(sim: SimProcess) -> int:
    return int(sim.stats()["credits_used"].get(ORG, 0))


def export_once(
    sim: SimProcess,
    data_dir: Path,
    time_scale: float,
    jobs_at_once: int,
) -> dict[str, Any]:
    from engine.extracts import DirectSteps, ExportOptions, export_module
    from engine.runtime import close_runtimes, runtime_for
    from engine.simulated import simulated_connection

    spec = {"data_dir": str(data_dir), "time_scale": time_scale}
    settings = scaled_settings(spec).model_copy(update={"active_bulk_jobs": jobs_at_once})
    credits_before = credits_used(sim)
    started_epoch = time.time()
    started = time.perf_counter()
    rt = runtime_for(simulated_connection(sim.base_url, ORG), settings)
    try:
        summary = export_module(
            rt, "crm", MODULE, ExportOptions(mode="full", capture_deletes=False), DirectSteps(rt)
        )
        wall = time.perf_counter() - started
        with rt.load_lock:
            ids = rt.warehouse.read_table(f"crm_{MODULE}").column("id").to_pylist()
    finally:
        close_runtimes()
    intervals = job_intervals(sim, started_epoch - 1.0)
    busy = union_seconds(intervals)
    return {
        "wall_seconds": round(wall, 2),
        "reason": summary.reason,
        "pages": summary.pages,
        "bulk_jobs": summary.bulk_jobs_created,
        "job_seconds": [round(b - a, 2) for a, b in intervals],
        "zoho_busy_seconds": round(busy, 2),
        "client_work_seconds": round(wall - busy, 2),
        "credits": credits_used(sim) - credits_before,
        "rows_loaded": summary.rows_loaded,
        "table_rows": len(ids),
        "distinct_ids": len(set(ids)),
    }


def drop_table(path: Path, table: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(f'DROP TABLE "{table}"')
    finally:
        con.close()


def run(
    records: int,
    time_scale: float,
    jobs_at_once: int,
    seed: int,
    per_page: int = 200_000,
    sim_nice: int = 0,
) -> dict[str, Any]:
    scaled = (JOB_SECONDS[0] * time_scale, JOB_SECONDS[1] * time_scale)
    overrides = {"downloads_per_minute": max(1, round(10 / time_scale))}
    load_before = list(os.getloadavg())
    with (
        tempfile.TemporaryDirectory(prefix="bench-windows-") as tmp,
        sim_process(
            records={MODULE: records},
            per_page=per_page,
            job_seconds=scaled,
            seed=seed,
            overrides=overrides,
            nice=sim_nice,
        ) as sim,
    ):
        data_dir = Path(tmp) / "data"
        print(f"[bench.windows] serial export of {records} {MODULE} ...", file=sys.stderr)
        serial = export_once(sim, data_dir, time_scale, jobs_at_once=1)
        print(f"[bench.windows] serial: {serial['wall_seconds']} s", file=sys.stderr)
        # the same ledger (a second export knows the first one's job times), the table
        # dropped: "exactly once" is checked on a table only this run loaded, and DuckDB's
        # default memory cap is not spent on merging 1,000,000 rows into 1,000,000
        drop_table(data_dir / "warehouse.duckdb", f"crm_{MODULE}")
        parallel = export_once(sim, data_dir, time_scale, jobs_at_once)
        print(f"[bench.windows] parallel: {parallel['wall_seconds']} s", file=sys.stderr)
        # the simulator's own count: its configuration (nothing is inserted during the bench)
        config = requests.get(f"{sim.base_url}/_sim/config", timeout=30).json()
        sim_count = int(config["records"][MODULE])
    return {
        "records": records,
        "time_scale": time_scale,
        "job_seconds_range": [round(s, 2) for s in scaled],
        "jobs_at_once": jobs_at_once,
        "per_page": per_page,
        "sim_nice": sim_nice,
        "simulator_count": sim_count,
        "credit_minimum": credit_minimum(records, per_page).to_dict(),
        "load_average": {"before": load_before, "after": list(os.getloadavg())},
        "serial": serial,
        "parallel": parallel,
    }


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    serial, parallel = result["serial"], result["parallel"]
    return {
        "windows_serial_over_parallel_wall": ratio(
            serial["wall_seconds"], parallel["wall_seconds"]
        ),
        "windows_parallel_over_serial_credits": ratio(parallel["credits"], serial["credits"]),
    }


def targets(result: dict[str, Any]) -> list[Target]:
    """Parallel wall <= 1.5 x its longest job + its client work (the jobs overlapped);
    credits <= the minimum (one job, one status call, one download a page) + 5 %; every
    record exactly once (rows = distinct ids = the simulator's count; 0 when not)."""
    parallel = result["parallel"]
    longest = max(parallel["job_seconds"], default=0.0)
    limit = 1.5 * longest + parallel["client_work_seconds"]
    minimum = credit_minimum(result["records"], result["per_page"])
    counts = {parallel["table_rows"], parallel["distinct_ids"], result["simulator_count"]}
    return [
        Target(
            "windows_wall_over_longest_job_plus_client",
            "parallel windows: wall / (1.5 x longest job + client work)",
            round(parallel["wall_seconds"] / limit, 3) if limit > 0 else None,
            1.0,
            "max",
        ),
        Target(
            "credits_windows",
            f"credits of the parallel windows vs minimum {minimum.total} + 5%",
            parallel["credits"],
            round(minimum.allowed, 1),
            "max",
        ),
        Target(
            "windows_every_record_once",
            "parallel windows: 1 when rows = distinct ids = the simulator's count",
            1.0 if len(counts) == 1 else 0.0,
            1.0,
            "min",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.windows", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--time-scale", type=float, default=0.25)
    parser.add_argument("--jobs-at-once", type=int, default=5)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--per-page", type=int, default=200_000, help="Zoho: 200,000")
    parser.add_argument("--sim-nice", type=int, default=0, help="CPU priority of the simulator")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be positive")
    result = run(
        args.records, args.time_scale, args.jobs_at_once, args.seed, args.per_page, args.sim_nice
    )
    checks = targets(result)
    result["ratios"] = ratios(result)
    result["targets"] = [t.to_dict() for t in checks]
    write_result("windows", result, args.out)
    print(json.dumps(result, indent=1))
    return 0 if all(t.verdict != "FAIL" for t in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
