"""End-to-end benchmark: our export against its floor and the naive way, in one run.

    python -m bench [--records 1000000] [--module Leads] [--time-scale 0.05] [--soak] [--prefect]

One simulator process (``bench.sim_process``) serves N records; each variant runs in its own
worker process (``bench.e2e_worker``) whose peak RSS is sampled from here:

1. **ours -> DuckDB**: the export through the flows engine (jobs, polling, download, typed
   Arrow, Parquet, DuckDB merge);
2. **floor**: the same result zips by plain GET + DuckDB ``read_csv`` -> Parquet;
3. **naive -> DuckDB** and **naive -> PostgreSQL**: the same GET + ``pandas.read_csv`` +
   ``DataFrame.to_sql``;
4. **ours -> PostgreSQL**: a second export run (new jobs) into PostgreSQL;
5. with ``--prefect``: **ours -> DuckDB** through the real Prefect export flow (temporary local
   server, thread task runner), to report Prefect's own overhead against leg 1;
6. with ``--soak``: **ours -> DuckDB** again at 10,000,000 records (50 pages): peak RSS and
   seconds per million against leg 1;
7. **windows** (``bench.windows``, its own simulator, jobs of 20-120 s times
   ``--windows-time-scale``, default 0.25): serial pages against parallel ``Created_Time``
   windows on the same records; ``--no-windows`` skips it.

PostgreSQL legs run in a scratch database created (and dropped) on the server of ``--pg-url``
and are skipped when it is not reachable.

The simulator runs at the lowest CPU priority (``--sim-nice 19``): it writes each job's result
zip while the job "runs", which on this 2-core machine would otherwise take CPU from ours
while ours loads the previous page; Zoho does that work on its own servers. A job whose
zip is late completes late, which counts as time blocked on Zoho, not as client work.

With ``--callbacks`` ours runs the way a deployment Zoho can reach would: a callback
receiver on loopback (``RunSettings.callback_listen``), so each page's wait ends when its job
does and a job costs one status call.

Zoho's times are realistic but scaled: jobs take ``--job-seconds`` (20-120 s) times
``--time-scale``; the production poll policy (``RunSettings`` defaults) and download limit
(10 a minute) are scaled by the same factor, so polls per job are what production would see.
"Client work" is ours' wall time minus the time it sat blocked while Zoho was still
processing a job (its waits cut at each job's completion time from ``/_sim/jobs``): what the
tool itself costs, poll latency included. Time Zoho works while ours loads an earlier page is
not subtracted. The floor and naive variants reuse the finished jobs' results, so they never
wait for Zoho.

Output: ``bench/results/e2e.json`` (or ``--out``) and a table with the ratios and each target
as PASS/FAIL/SKIP; the credit minimum is defined in ``bench.e2e_targets``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from bench import e2e_targets as targets
from bench.e2e_report import format_report
from bench.harness import PeakRSS, ratio, write_result
from bench.sim_process import SimProcess, sim_process

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_PG_DATABASE = "zoho_bench_e2e"
ORG = "us-enterprise"
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
    workdir: Path | None = None
    keep: bool = False

    @property
    def scaled_job_seconds(self) -> tuple[float, float]:
        low, high = self.job_seconds
        return (round(low * self.time_scale, 3), round(high * self.time_scale, 3))


@dataclass
class Leg:
    """One variant's run: its worker's result, peak RSS and what the simulator saw."""

    name: str
    result: dict[str, Any]
    peak_rss_mb: float
    process_seconds: float
    sim: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- worker processes -----------------------------------------------------------------------
class WorkerFailed(RuntimeError):
    """A benchmark worker process exited non-zero (its traceback went to stderr)."""


def run_worker(name: str, spec: Mapping[str, Any], workdir: Path) -> tuple[dict[str, Any], float]:
    """Run ``bench.e2e_worker`` for ``spec``; returns its result and its peak RSS (MB)."""
    spec_path = workdir / f"{name}.spec.json"
    out_path = workdir / f"{name}.result.json"
    spec_path.write_text(json.dumps(dict(spec), indent=1), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.setdefault("PREFECT_HOME", str(workdir / "prefect-home"))  # --prefect: not ~/.prefect
    command = [sys.executable, "-m", "bench.e2e_worker", str(spec_path), str(out_path)]
    process = subprocess.Popen(command, env=env)
    try:
        with PeakRSS(process.pid) as rss:
            code = process.wait()
    finally:
        if process.poll() is None:  # interrupted: do not leave the worker running
            process.terminate()
            process.wait(timeout=30)
    if code != 0:
        raise WorkerFailed(f"benchmark worker {name!r} exited with code {code} (spec {spec_path})")
    result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return result, rss.peak_mb


@contextmanager
def simulator_watch(sim: SimProcess, org: str) -> Iterator[dict[str, Any]]:
    """What the simulator counted during the block: credits, calls, polls, downloads."""
    before = sim.stats()
    seen: dict[str, Any] = {}
    yield seen
    after = sim.stats()
    seen["credits_used"] = after["credits_used"].get(org, 0) - before["credits_used"].get(org, 0)
    seen["calls"] = {
        k: v - before["calls"].get(k, 0)
        for k, v in after["calls"].items()
        if v != before["calls"].get(k, 0) and " /_sim/" not in k  # the bench's own admin calls
    }
    seen["http_calls"] = sum(seen["calls"].values())
    seen["jobs_created"] = after["total_jobs"] - before["total_jobs"]
    seen["polls"] = {
        k: v - before["polls"].get(k, 0)
        for k, v in after["polls"].items()
        if v != before["polls"].get(k, 0)
    }
    seen["downloads"] = sum(after["downloads"].values()) - sum(before["downloads"].values())
    seen["errors"] = {
        k: v - before["errors"].get(k, 0)
        for k, v in after["errors"].items()
        if v != before["errors"].get(k, 0)
    }


def server_job_times(sim: SimProcess, job_ids: list[str]) -> dict[str, tuple[float, float]] | None:
    """(created, completed) of each job on the simulator's clock, if it reports them."""
    jobs = requests.get(f"{sim.base_url}/_sim/jobs", timeout=30).json()["jobs"]
    by_id = {j["id"]: j for j in jobs}
    out: dict[str, tuple[float, float]] = {}
    for job_id in job_ids:
        job = by_id.get(job_id, {})
        if job.get("created_at") is None or job.get("completed_at") is None:
            return None
        out[job_id] = (float(job["created_at"]), float(job["completed_at"]))
    return out


def blocked_on_zoho(
    waits: list[list[Any]], server: Mapping[str, tuple[float, float]] | None
) -> tuple[float, float | None]:
    """Seconds the client sat waiting while Zoho was still processing, and poll latency.

    ``waits`` are the client's ``[job_id, start, end]`` waits (epoch seconds; the simulator
    runs on this machine's clock). A wait splits at the job's completion: before it, the
    client is blocked on Zoho; after it, the client has not noticed yet (poll latency, ours).
    Without server times the whole wait counts as Zoho's and the latency is unknown.
    """
    blocked, latency = 0.0, 0.0
    for job_id, start, end in waits:
        done = server[job_id][1] if server is not None and job_id in server else None
        if done is None:
            return sum(e - s for _, s, e in waits), None
        blocked += max(0.0, min(end, done) - start)
        latency += max(0.0, end - max(start, done))
    return blocked, latency


# -- PostgreSQL scratch database -------------------------------------------------------------
def prepare_postgres(url: str | None, database: str) -> tuple[str | None, str]:
    """A fresh scratch database next to ``url``; (its URL or None, why) when unreachable."""
    if not url:
        return None, "no --pg-url"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return None, f"PostgreSQL not reachable: {reason}"
    finally:
        engine.dispose()
    scratch = sa.make_url(url).set(database=database)
    return scratch.render_as_string(hide_password=False), "reachable"


def drop_postgres(url: str | None, database: str) -> None:
    if not url:
        return
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        engine.dispose()


# -- the run ---------------------------------------------------------------------------------
class Bench:
    def __init__(self, config: E2EConfig, sim: SimProcess, workdir: Path) -> None:
        self.config = config
        self.sim = sim
        self.workdir = workdir
        self.legs: dict[str, Leg] = {}
        #: optional legs whose worker failed: name -> why (their targets report SKIP)
        self.failures: dict[str, str] = {}

    def optional(self, name: str, leg: Callable[[], object]) -> None:
        """Run a leg the comparison can do without; a failure is recorded, not raised."""
        try:
            leg()
        except WorkerFailed as exc:
            self.failures[name] = str(exc)
            print(f"[bench] {name} FAILED: {exc}; continuing", file=sys.stderr, flush=True)

    def _common(self) -> dict[str, Any]:
        c = self.config
        return {"base_url": self.sim.base_url, "org": ORG, "product": c.product, "module": c.module}

    def _leg(self, name: str, spec: dict[str, Any]) -> Leg:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with simulator_watch(self.sim, ORG) as seen:
            result, peak = run_worker(name, spec, self.workdir)
        leg = Leg(name, result, peak, round(time.perf_counter() - started, 3), seen)
        self.legs[name] = leg
        print(
            f"[bench] {name}: {result['wall_seconds']} s, {result['rows']} rows, {peak} MB",
            file=sys.stderr,
            flush=True,
        )
        return leg

    def ours(self, name: str, warehouse_url: str | None, variant: str = "ours") -> Leg:
        data_dir = self.workdir / name
        spec = {
            **self._common(),
            "variant": variant,
            "data_dir": str(data_dir),
            "warehouse_url": warehouse_url,
            "time_scale": self.config.time_scale,
            "callbacks": self.config.callbacks,
            "profile": str(self.workdir / f"{name}.prof") if self.config.profile else None,
        }
        leg = self._leg(name, spec)
        job_ids = [p["job_id"] for p in leg.result["pages"]]
        server = server_job_times(self.sim, job_ids)
        zoho, latency = blocked_on_zoho(leg.result["wait_intervals"], server)
        leg.sim["server_job_seconds"] = (
            {j: round(done - created, 3) for j, (created, done) in server.items()}
            if server is not None
            else None
        )
        leg.sim["zoho_seconds_source"] = (
            "simulator /_sim/jobs completion times vs the client's waits"
            if server is not None
            else "client-side waits (the simulator reported no job times)"
        )
        leg.sim["polls_per_job"] = [leg.sim["polls"].get(j, 0) for j in job_ids]
        leg.result["zoho_seconds"] = round(zoho, 3)
        leg.result["client_work_seconds"] = round(leg.result["wall_seconds"] - zoho, 3)
        leg.result["poll_latency_seconds"] = None if latency is None else round(latency, 3)
        shutil.rmtree(data_dir / "downloads", ignore_errors=True)  # keep disk use bounded
        return leg

    def baseline(
        self,
        name: str,
        variant: str,
        warehouse_url: str | None = None,
        max_pages: int | None = None,
    ) -> Leg:
        """Floor or naive on the result zips of ``ours_duckdb`` (the first ``max_pages``)."""
        pages = self.legs["ours_duckdb"].result["pages"][:max_pages]
        spec = {
            **self._common(),
            "variant": variant,
            "workdir": str(self.workdir / name),
            "jobs": [{"job_id": p["job_id"], "download_url": p["download_url"]} for p in pages],
            "rows": sum(int(p["records"]) for p in pages),
            "warehouse_url": warehouse_url,
            "table": f"naive_{self.config.module.lower()}",
        }
        leg = self._leg(name, spec)
        shutil.rmtree(self.workdir / name, ignore_errors=True)
        return leg

    def resize(self, records: int) -> None:
        body = {"records": {self.config.module: records}}
        response = requests.patch(f"{self.sim.base_url}/_sim/config", json=body, timeout=30)
        response.raise_for_status()


def run(config: E2EConfig) -> dict[str, Any]:
    """Run every leg and return the JSON document (figures, ratios, targets)."""
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with _workdir(config) as workdir:
        pg_scratch, pg_reason = prepare_postgres(config.pg_url, config.pg_database)
        overrides = {"downloads_per_minute": max(1, round(10 / config.time_scale))}
        try:
            with sim_process(
                records={config.module: config.records},
                per_page=config.per_page,
                job_seconds=config.scaled_job_seconds,
                seed=config.seed,
                overrides=overrides,
                nice=config.sim_nice,
            ) as sim:
                bench = Bench(config, sim, workdir)
                bench.ours("ours_duckdb", None)
                bench.baseline("floor", "floor")
                if "naive-duckdb" not in config.skip:
                    naive_url = f"duckdb:///{workdir / 'naive.duckdb'}"
                    pages = config.naive_duckdb_pages
                    bench.optional(
                        "naive_duckdb",
                        lambda: bench.baseline("naive_duckdb", "naive", naive_url, pages),
                    )
                if pg_scratch and "naive-postgres" not in config.skip:
                    bench.optional(
                        "naive_postgres",
                        lambda: bench.baseline("naive_postgres", "naive", pg_scratch),
                    )
                if pg_scratch and "ours-postgres" not in config.skip:
                    bench.optional("ours_postgres", lambda: bench.ours("ours_postgres", pg_scratch))
                if config.prefect:
                    bench.optional(
                        "ours_prefect_duckdb",
                        lambda: bench.ours("ours_prefect_duckdb", None, "ours_prefect"),
                    )
                if config.soak_records:
                    shutil.rmtree(workdir / "ours_duckdb", ignore_errors=True)
                    bench.resize(config.soak_records)
                    bench.optional("ours_duckdb_soak", lambda: bench.ours("ours_duckdb_soak", None))
        finally:
            if not config.keep:
                drop_postgres(config.pg_url if pg_scratch else None, config.pg_database)
        document = summarise(config, bench.legs, pg_reason)
        document["failed_legs"] = bench.failures
        document["load_average_at_start"] = load_at_start
    if config.windows_time_scale is not None:
        add_windows(document, config)
    return document


def add_windows(document: dict[str, Any], config: E2EConfig) -> None:
    """Serial pages against parallel windows (``bench.windows``, its own simulator) into the
    document: its figures, its ratios next to the others, its targets in the same table."""
    from bench import windows

    assert config.windows_time_scale is not None
    print(f"[bench] windows (time scale {config.windows_time_scale}) ...", file=sys.stderr)
    try:
        result = windows.run(
            config.records,
            config.windows_time_scale,
            config.windows_jobs_at_once,
            17 if config.seed is None else config.seed,
            config.per_page,
        )
    except Exception as exc:  # the other legs' figures still count
        document["failed_legs"]["windows"] = f"{type(exc).__name__}: {exc}"
        print(f"[bench] windows FAILED: {exc}; continuing", file=sys.stderr, flush=True)
        return
    document["windows"] = result
    document["ratios"].update(windows.ratios(result))
    document["targets"] += [t.to_dict() for t in windows.targets(result)]


@contextmanager
def _workdir(config: E2EConfig) -> Iterator[Path]:
    if config.workdir is not None:
        config.workdir.mkdir(parents=True, exist_ok=True)
        yield config.workdir
        return
    path = Path(tempfile.mkdtemp(prefix="zoho-bench-e2e-"))
    try:
        yield path
    finally:
        if not config.keep:
            shutil.rmtree(path, ignore_errors=True)


# -- figures and targets ---------------------------------------------------------------------
def _variant_row(leg: Leg, records: int) -> dict[str, Any]:
    result = leg.result
    rows = int(result["rows"])
    wall = float(result["wall_seconds"])
    work = float(result.get("client_work_seconds", wall))
    polls = leg.sim.get("polls_per_job") or []
    return {
        "variant": leg.name,
        "warehouse": result.get("warehouse"),
        "records": records,
        "rows": rows,
        "wall_seconds": wall,
        "zoho_seconds": result.get("zoho_seconds", 0.0),
        "poll_latency_seconds": result.get("poll_latency_seconds"),
        "server_job_seconds_total": (
            round(sum(leg.sim["server_job_seconds"].values()), 3)
            if leg.sim.get("server_job_seconds")
            else None
        ),
        "client_work_seconds": work,
        "rows_per_second_wall": round(rows / wall, 1) if wall else None,
        "rows_per_second_work": round(rows / work, 1) if work else None,
        "seconds_per_million_work": targets.per_million(work, rows),
        "seconds_per_million_wall": targets.per_million(wall, rows),
        "peak_rss_mb": leg.peak_rss_mb,
        "credits_used": leg.sim.get("credits_used"),
        "credits_per_million": targets.per_million(leg.sim.get("credits_used", 0), rows),
        "http_calls": leg.sim.get("http_calls"),
        "jobs_created": leg.sim.get("jobs_created"),
        "polls_per_job_mean": round(sum(polls) / len(polls), 2) if polls else None,
        "polls_per_job_max": max(polls) if polls else None,
        "stage_seconds": result.get("stage_seconds", {}),
        **load_trend(result.get("pages", [])),
    }


def load_trend(pages: list[dict[str, Any]]) -> dict[str, float]:
    """Mean load seconds of the first and last tenth of the pages (a growing merge shows)."""
    loads = [float(p["load_seconds"]) for p in pages if "load_seconds" in p]
    if len(loads) < 2:
        return {}
    tenth = max(1, len(loads) // 10)
    return {
        "page_load_seconds_first_tenth": round(sum(loads[:tenth]) / tenth, 3),
        "page_load_seconds_last_tenth": round(sum(loads[-tenth:]) / tenth, 3),
    }


def summarise(config: E2EConfig, legs: Mapping[str, Leg], pg_reason: str) -> dict[str, Any]:
    base = targets.credit_minimum(config.records, config.per_page)
    soak_size = config.soak_records or config.records
    variants = {
        name: _variant_row(leg, soak_size if name.endswith("_soak") else config.records)
        for name, leg in legs.items()
    }
    ours = variants["ours_duckdb"]
    floor = variants["floor"]
    naive_pg = variants.get("naive_postgres")
    ours_pg = variants.get("ours_postgres")
    naive_duck = variants.get("naive_duckdb")
    ratios = {
        "ours_over_floor_duckdb_work": ratio(ours["client_work_seconds"], floor["wall_seconds"]),
        "ours_over_floor_duckdb_wall_incl_zoho": ratio(
            ours["wall_seconds"], floor["wall_seconds"] + ours["zoho_seconds"]
        ),
        # rows/s, not seconds: the naive DuckDB leg may load only some pages
        "naive_over_ours_duckdb": (
            ratio(ours["rows_per_second_work"], naive_duck["rows_per_second_wall"])
            if naive_duck
            else None
        ),
        "naive_over_ours_postgres": (
            ratio(naive_pg["wall_seconds"], ours_pg["client_work_seconds"])
            if naive_pg and ours_pg
            else None
        ),
    }
    prefect = variants.get("ours_prefect_duckdb")
    if prefect:
        # Prefect's own cost: the same export through the real flow minus the direct run
        # (job times are random, so compare client work, not wall).
        ratios["prefect_overhead_seconds"] = round(
            prefect["client_work_seconds"] - ours["client_work_seconds"], 3
        )
        ratios["prefect_over_direct_work"] = ratio(
            prefect["client_work_seconds"], ours["client_work_seconds"]
        )
    checks = [
        targets.ours_vs_floor(ours["client_work_seconds"], floor["wall_seconds"]),
        targets.naive_vs_ours_pg(
            naive_pg["wall_seconds"] if naive_pg else None,
            ours_pg["client_work_seconds"] if ours_pg else None,
        ),
        targets.peak_rss(ours["peak_rss_mb"], config.records),
        targets.credits(ours["credits_used"], base, "duckdb"),
    ]
    if ours_pg:
        checks.append(targets.credits(ours_pg["credits_used"], base, "postgres"))
    soak = variants.get("ours_duckdb_soak")
    soak_minimum = None
    if soak and config.soak_records:
        soak_minimum = targets.credit_minimum(config.soak_records, config.per_page)
        checks += [
            targets.soak_rss_flat(ours["peak_rss_mb"], soak["peak_rss_mb"]),
            targets.soak_time_linear(
                ours["seconds_per_million_work"], soak["seconds_per_million_work"]
            ),
            targets.soak_page_load_trend(
                soak.get("page_load_seconds_first_tenth"), soak.get("page_load_seconds_last_tenth")
            ),
            targets.credits(soak["credits_used"], soak_minimum, "soak"),
        ]
    return {
        "config": {
            **{k: v for k, v in asdict(config).items() if k not in {"workdir", "pg_url"}},
            "scaled_job_seconds": config.scaled_job_seconds,
            "postgres": pg_reason,
        },
        "credit_minimum": base.to_dict(),
        "credit_minimum_soak": soak_minimum.to_dict() if soak_minimum else None,
        "variants": variants,
        "ratios": ratios,
        "targets": [t.to_dict() for t in checks],
        "legs": {name: leg.to_dict() for name, leg in legs.items()},
    }


def parse_args(argv: list[str] | None) -> tuple[E2EConfig, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
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
        workdir=args.workdir,
        keep=args.keep,
    )
    return config, args.out


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: the simulator stops, the scratch DB is dropped


def main(argv: list[str] | None = None) -> int:
    config, out = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    document = run(config)
    name = "e2e_soak" if config.soak_records else "e2e"
    path = write_result(name, document, out)
    print(format_report(document))
    print(f"written to {path}")
    failed = [t["name"] for t in document["targets"] if t["verdict"] == "FAIL"]
    for name, why in document["failed_legs"].items():
        print(f"leg {name} FAILED: {why}")
    return 1 if failed or document["failed_legs"] else 0
