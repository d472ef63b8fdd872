"""The three variants of the end-to-end benchmark, each run in its own process.

    python -m bench.e2e_worker SPEC.json RESULT.json

``SPEC.json`` names the variant and its inputs; the worker times its own work (interpreter
start-up and imports excluded) and writes ``RESULT.json``. The parent (``bench.e2e``) samples
the worker's peak RSS from outside, so each variant's memory is its own.

- **ours**: ``engine.extracts.export_module`` with ``DirectSteps``: the code the Prefect export
  flow runs per module (ledger, credit budget, create job, poll, download + verify, typed
  Arrow, Parquet, warehouse merge, watermark), without Prefect's task wrappers. Stages are
  timed by wrapping the *instance* methods of this run's bulk-read client (measurement only,
  the calls and their order are unchanged); the load stage is ``load_page``'s own timing.
- **floor**: the same result zips by a plain streaming GET, unzipped, DuckDB ``read_csv`` ->
  one zstd Parquet file (``bench.baselines``).
- **naive**: the same GET, then ``pandas.read_csv`` + ``DataFrame.to_sql`` (``bench.baselines``).
"""

from __future__ import annotations

import atexit
import cProfile
import json
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import Stage, measure

if TYPE_CHECKING:
    from engine.extracts import DirectSteps
    from engine.ledger import ExtractRecord, JobRecord
    from engine.settings import RunSettings
    from engine.summary import PageOutcome

JobKey = Callable[[tuple[Any, ...]], str | None]


# -- ours -----------------------------------------------------------------------------------
@dataclass
class CallClock:
    """Seconds spent in wrapped callables, by label (for per-page deltas), and the wall-clock
    intervals (epoch seconds, comparable with the simulator's clock) of those given a job key."""

    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    intervals: list[tuple[str | None, float, float]] = field(default_factory=list)

    def wrap(
        self, obj: object, name: str, label: str | None = None, job: JobKey | None = None
    ) -> None:
        """Replace ``obj.name`` by a timed wrapper (measurement only: same call, same result)."""
        original: Callable[..., Any] = getattr(obj, name)
        label = label or name
        totals, intervals = self.totals, self.intervals

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, epoch = time.perf_counter(), time.time()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - started
                if job is not None:
                    intervals.append((job(args), epoch, time.time()))

        setattr(obj, name, timed)

    def snapshot(self) -> dict[str, float]:
        return dict(self.totals)


def instrument(clock: CallClock, bulk: object) -> None:
    """Time the bulk-read calls of this run's client and every wait for a job.

    The wait is ``engine.page_wait.wait_for_job`` (``engine.pages._wait`` in older trees) when
    it exists (it includes the engine's sleep until a job is expected to be done, then the
    polls); otherwise the client's ``wait``.
    """
    import importlib

    clock.wrap(bulk, "create_job")
    clock.wrap(bulk, "download")
    for module_name, name in (("engine.page_wait", "wait_for_job"), ("engine.pages", "_wait")):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if callable(getattr(module, name, None)):
            clock.wrap(module, name, "wait", lambda args: args[2].job_id)
            return
    clock.wrap(bulk, "wait", "wait", lambda args: str(args[0]))


def _timed_steps(rt: Any, clock: CallClock, pages: list[dict[str, Any]]) -> DirectSteps:
    from engine.extracts import DirectSteps

    class TimedSteps(DirectSteps):
        """``DirectSteps`` that records each page's stage times and result."""

        def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
            before = clock.snapshot()
            started = time.perf_counter()
            outcome = super().page(extract, job, allow_split)
            seconds = time.perf_counter() - started
            after = clock.snapshot()
            spent = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
            load = outcome.load.seconds if outcome.load is not None else 0.0
            create, wait = spent.get("create_job", 0.0), spent.get("wait", 0.0)
            download = spent.get("download", 0.0)
            done = outcome.job
            client = rt.client(extract.product)
            pages.append(
                {
                    "page": done.page,
                    "job_id": done.job_id,
                    "download_url": (
                        f"{client.base_url()}{client.product.bulk_read_path}/{done.job_id}/result"
                    ),
                    "records": done.record_count,
                    "rows_loaded": done.rows_loaded,
                    "rows_rejected": done.rows_rejected,
                    "zip_bytes": done.file_size,
                    "polls": outcome.polls,
                    "credits": outcome.credits,
                    "seconds": round(seconds, 3),
                    "create_seconds": round(create, 3),
                    "wait_seconds": round(wait, 3),
                    "download_verify_seconds": round(download, 3),
                    "load_seconds": round(load, 3),
                    "ledger_and_checks_seconds": round(
                        seconds - create - wait - download - load, 3
                    ),
                }
            )
            return outcome

    return TimedSteps(rt)


def scaled_settings(spec: dict[str, Any]) -> RunSettings:
    """The production defaults (poll interval, its cap, Zoho's 10 downloads a minute), with
    every duration multiplied by the time scale like the simulator's job times."""
    from engine.settings import RunSettings

    scale = float(spec["time_scale"])
    production = RunSettings()
    return RunSettings(
        data_dir=spec["data_dir"],
        warehouse_url=spec.get("warehouse_url"),
        poll_interval_s=production.poll_interval_s * scale,
        poll_max_interval_s=production.poll_max_interval_s * scale,
        downloads_per_minute=max(1, round(production.downloads_per_minute / scale)),
        callback_listen="127.0.0.1:0" if spec.get("callbacks") else None,
    )


def _settings_dict(settings: RunSettings) -> dict[str, Any]:
    return {
        "poll_interval_s": settings.poll_interval_s,
        "poll_max_interval_s": settings.poll_max_interval_s,
        "downloads_per_minute": settings.downloads_per_minute,
    }


def run_ours_prefect(spec: dict[str, Any]) -> dict[str, Any]:
    """The real Prefect export flow (thread task runner, Prefect's temporary local server).

    Only the waits are instrumented (each page runs inside a Prefect task); the difference
    to the ``ours`` leg is Prefect's own overhead: server start, task and state bookkeeping.
    """
    from engine.runtime import close_runtimes, runtime_for
    from engine.simulated import simulated_connection
    from flows.connection import run_overrides
    from flows.export import export_flow

    settings = scaled_settings(spec)
    product, module = spec["product"], spec["module"]
    clock = CallClock()
    started = time.perf_counter()
    # The flow resolves the same connection and settings, so it gets this runtime back.
    connection = simulated_connection(spec["base_url"], spec["org"])
    rt = runtime_for(connection, settings)
    instrument(clock, rt.client(product).bulk_read)
    try:
        with (
            measure("prefect_export_flow") as stage,
            run_overrides(settings=settings, connection=connection),
        ):
            rows = export_flow(
                product=product, modules=[module], mode="full", capture_deletes=False
            )
    finally:
        close_runtimes()
    wall = time.perf_counter() - started
    loaded = sum(int(r["rows loaded"]) for r in rows)
    waits = sum(end - start for _, start, end in clock.intervals)
    return {
        "variant": "ours_prefect",
        "warehouse": _dialect(settings.effective_warehouse_url),
        "settings": _settings_dict(settings),
        "wall_seconds": round(wall, 3),
        "rows": loaded,
        "pages": [{"job_id": job_id} for job_id, _, _ in clock.intervals],
        "stage_seconds": {
            "wait_job": round(waits, 3),
            "everything_else_incl_prefect": round(wall - waits, 3),
        },
        "stages": [stage.to_dict()],
        "summary": rows,
        "wait_intervals": clock.intervals,
    }


def run_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from engine.extracts import ExportOptions, export_module
    from engine.runtime import close_runtimes, runtime_for
    from engine.simulated import simulated_connection

    settings = scaled_settings(spec)
    connection = simulated_connection(spec["base_url"], spec["org"])
    product, module = spec["product"], spec["module"]
    clock = CallClock()
    pages: list[dict[str, Any]] = []
    stages: list[Stage] = []
    started = time.perf_counter()
    with measure("open_runtime") as stage:
        rt = runtime_for(connection, settings)
        instrument(clock, rt.client(product).bulk_read)
    stages.append(stage)
    try:
        with measure("export_module") as stage:
            summary = export_module(
                rt,
                product,
                module,
                ExportOptions(mode="full", capture_deletes=False),
                _timed_steps(rt, clock, pages),
            )
            stage.rows = summary.rows_loaded
        stages.append(stage)
    finally:
        with measure("close") as stage:
            close_runtimes()
        stages.append(stage)
    wall = time.perf_counter() - started
    page_seconds = sum(p["seconds"] for p in pages)
    return {
        "variant": "ours",
        "warehouse": _dialect(settings.effective_warehouse_url),
        "settings": _settings_dict(settings),
        "wall_seconds": round(wall, 3),
        "rows": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
        "pages": pages,
        "stage_seconds": {
            "open_runtime": round(stages[0].seconds, 3),
            "create_job": round(sum(p["create_seconds"] for p in pages), 3),
            "wait_job": round(sum(p["wait_seconds"] for p in pages), 3),
            "download_verify": round(sum(p["download_verify_seconds"] for p in pages), 3),
            "load_transform_parquet_merge": round(sum(p["load_seconds"] for p in pages), 3),
            "ledger_and_checks": round(sum(p["ledger_and_checks_seconds"] for p in pages), 3),
            "metadata_plan_watermark": round(stages[1].seconds - page_seconds, 3),
            "close": round(stages[-1].seconds, 3),
        },
        "stages": [s.to_dict() for s in stages],
        "summary": summary.as_row(),
        "credits_by_ledger": summary.credits,
        "polls": sum(p["polls"] for p in pages),
        "wait_intervals": clock.intervals,
    }


def _dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


# -- floor and naive ------------------------------------------------------------------------
def _download_all(spec: dict[str, Any], into: Path) -> tuple[Stage, list[Path]]:
    from bench.baselines import plain_download
    from bench.sim_process import SimProcess

    token, _ = SimProcess(spec["base_url"], 0).access_token(spec["org"])
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    into.mkdir(parents=True, exist_ok=True)
    zips: list[Path] = []
    with measure("download") as stage:
        size = 0
        for job in spec["jobs"]:
            dest = into / f"{job['job_id']}.zip"
            size += plain_download(job["download_url"], dest, headers)
            zips.append(dest)
        stage.extra["zip_bytes"] = size
    stage.rows = int(spec["rows"])
    return stage, zips


def run_floor(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.baselines import duckdb_csv_to_parquet, extract_csvs

    work = Path(spec["workdir"])
    download, zips = _download_all(spec, work / "zips")
    with measure("extract_csv") as extract:
        csvs = extract_csvs(zips, work / "csv")
    extract.rows = download.rows
    with measure("duckdb_read_csv_to_parquet") as convert:
        convert.rows = duckdb_csv_to_parquet(csvs, work / "floor.parquet")
    stages = [download, extract, convert]
    return _baseline_result("floor", None, stages, convert.rows)


def run_naive(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.baselines import pandas_to_sql

    work = Path(spec["workdir"])
    download, zips = _download_all(spec, work / "zips")
    with measure("pandas_read_csv_to_sql") as load:
        load.rows = pandas_to_sql(zips, spec["warehouse_url"], spec["table"])
    return _baseline_result("naive", _dialect(spec["warehouse_url"]), [download, load], load.rows)


def _baseline_result(
    variant: str, warehouse: str | None, stages: list[Stage], rows: int
) -> dict[str, Any]:
    seconds = sum(s.seconds for s in stages)
    return {
        "variant": variant,
        "warehouse": warehouse,
        "wall_seconds": round(seconds, 3),
        "rows": rows,
        "stage_seconds": {s.name: round(s.seconds, 3) for s in stages},
        "stages": [s.to_dict() for s in stages],
    }


VARIANTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ours": run_ours,
    "ours_prefect": run_ours_prefect,
    "floor": run_floor,
    "naive": run_naive,
}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the spec's variant; with ``profile`` set, also write a cProfile summary there."""
    variant = VARIANTS[spec["variant"]]
    profile_path = spec.get("profile")
    if not profile_path:
        return variant(spec)
    profiler = cProfile.Profile()
    result = profiler.runcall(variant, spec)
    profiler.dump_stats(profile_path)
    with Path(profile_path).with_suffix(".txt").open("w", encoding="utf-8") as out:
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    result["profile"] = str(Path(profile_path).with_suffix(".txt"))
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.e2e_worker SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = run(spec)
    Path(args[1]).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    # DuckDB's bindings list objects still referenced from worker threads as "leaked" at
    # interpreter exit (harmless, dozens of lines); the result is written, so exit quietly.
    atexit.register(_silence_stderr)
    return 0


def _silence_stderr() -> None:
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
