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
   windows on the same records; ``--no-windows`` skips it;
8. **creator** (``bench.creator``, its own simulator): a ``--creator-records`` (1,000,000)
   record Creator report, ours against the same floor, peak RSS; ``--no-creator`` skips it.

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

from bench.e2e_config import E2EConfig, parse_args
from bench.e2e_report import format_report
from bench.e2e_side_legs import add_creator, add_windows
from bench.e2e_summary import summarise
from bench.harness import PeakRSS, write_result
from bench.sim_process import SimProcess, sim_process

ORG = "us-enterprise"


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
    if config.creator_records is not None:
        add_creator(document, config)
    return document


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
