"""The ``zoho-etl`` command line.

Commands: ``export``, ``backfill``, ``write``, ``status``, ``sim serve``, ``demo``, ``serve``,
``query``, ``lake optimize``, ``lake vacuum``.

Exit codes (scripts can rely on them):

====  ==========================================================================
0     success
1     the run failed (a module, window or write chunk failed; each is named)
2     bad input: unknown option or module, bad date range, unreadable file
3     the org's credit budget cannot cover the run, or ran out mid-run (re-run to resume)
4     missing or rejected credentials
130   interrupted (Ctrl-C); re-running resumes from the job ledger
====  ==========================================================================

Errors are printed as one line on stderr, never with a traceback or a secret.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.lake import DEFAULT_LANDING_DAYS, KeepLanding, LandingDays, with_landing
from cli.lake import register as register_lake_commands
from engine.errors import (
    BudgetExceededError,
    FlowsError,
    MissingCredentialsError,
    RunFailedError,
    UsageError,
)

app = typer.Typer(
    name="zoho-etl",
    help="Bulk export, incremental sync, backfill and write-back for Zoho CRM and Recruit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sim_app = typer.Typer(help="The embedded Zoho simulator.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
register_lake_commands(app)  # query, lake optimize|vacuum (cli/lake.py)


class ExitCode(IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    BUDGET = 3
    CREDENTIALS = 4
    INTERRUPTED = 130


def _fail(message: str, code: ExitCode) -> typer.Exit:
    typer.secho(f"zoho-etl: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(int(code))


def exit_code_for(error: BaseException) -> ExitCode:
    """The documented exit code of an error (library errors included)."""
    if isinstance(error, MissingCredentialsError):
        return ExitCode.CREDENTIALS
    if isinstance(error, UsageError):
        return ExitCode.USAGE
    if isinstance(error, BudgetExceededError):
        return ExitCode.BUDGET
    if isinstance(error, RunFailedError) and error.budget_exhausted:  # stopped by the budget
        return ExitCode.BUDGET
    if isinstance(error, RunFailedError | FlowsError):
        return ExitCode.RUN_FAILED
    try:
        from connectors.errors import AuthError, CreditBudgetExceededError
    except ImportError:  # connectors not installed in this checkout
        return ExitCode.RUN_FAILED
    if isinstance(error, AuthError):
        return ExitCode.CREDENTIALS
    if isinstance(error, CreditBudgetExceededError):
        return ExitCode.BUDGET
    return ExitCode.RUN_FAILED


@contextmanager
def _errors_as_exit_codes() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise _fail(
            "interrupted; re-run the same command to resume", ExitCode.INTERRUPTED
        ) from None
    except typer.Exit:
        raise
    except Exception as exc:  # every error becomes one line and a documented exit code
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(message, exit_code_for(exc)) from None


def _parse_day(value: str, option: str) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# ---- shared options -------------------------------------------------------------------------

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", help="Downloads, Parquet, rejects and the DuckDB file go here."),
]
WarehouseUrl = Annotated[
    str | None,
    typer.Option(
        "--warehouse-url",
        help="SQLAlchemy URL of the warehouse (default: DuckDB file in the data dir; "
        "env ZOHO_ETL_WAREHOUSE_URL).",
    ),
]
Simulator = Annotated[
    str | None,
    typer.Option(
        "--simulator",
        help="Base URL of a running `zoho-etl sim serve`; uses the simulated org's credentials.",
    ),
]
SimOrg = Annotated[
    str, typer.Option("--sim-org", help="Which simulated org to use with --simulator.")
]
CredentialsBlock = Annotated[
    str | None,
    typer.Option(
        "--credentials-block",
        help="Name of a saved ZohoCredentials Prefect block (default: ZOHO_* env variables).",
    ),
]
Budget = Annotated[
    int | None,
    typer.Option("--credit-budget", min=0, help="Daily credit budget of the org across all flows."),
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", min=1, max=25, help="Modules or windows run at once.")
]
Runner = Annotated[str, typer.Option("--runner", help="Task runner: threads (default) or dask.")]
DaskAddress = Annotated[
    str | None,
    typer.Option("--dask-address", help="Dask scheduler address (default: a local cluster)."),
]


def _run_settings(
    data_dir: Path,
    warehouse_url: str | None,
    budget: int | None,
    concurrency: int,
    runner: str,
    dask_address: str | None,
) -> Any:
    from engine.settings import RunSettings

    if runner not in {"threads", "dask"}:
        raise UsageError(f"--runner {runner!r}: choose threads or dask")
    return RunSettings.from_env(
        data_dir=str(data_dir),
        warehouse_url=warehouse_url,
        credit_budget=budget,
        concurrency=concurrency,
        task_runner=runner,
        dask_address=dask_address,
    )


def _connection(simulator: str | None, sim_org: str, credentials_block: str | None) -> Any:
    from flows.connection import resolve_connection

    return resolve_connection(
        simulator_url=simulator, sim_org=sim_org, credentials_block=credentials_block
    )


# ---- commands -------------------------------------------------------------------------------


@sim_app.command("serve")
def sim_serve(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0 picks one).")
    ] = 8765,
    records: Annotated[
        int | None,
        typer.Option("--records", min=0, help="Records per module (default: simulator's own)."),
    ] = None,
    per_page: Annotated[
        int | None, typer.Option("--per-page", min=1, help="Bulk read records per page.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Data generator seed.")] = None,
) -> None:
    """Run the Zoho simulator in the foreground until Ctrl-C.

    Every data centre's hosts are served by path prefix: {base}/{dc}/{service}/...
    """
    with _errors_as_exit_codes():
        from engine.simulated import sim_config

        config = sim_config(records=records, per_page=per_page, seed=seed)
        from simulator.testing import serve

        typer.echo(f"Zoho simulator on http://127.0.0.1:{port} (Ctrl-C stops it)")
        try:
            serve(port, config)
        except KeyboardInterrupt:
            typer.echo("simulator stopped")


@app.command()
def export(
    modules: Annotated[
        list[str], typer.Argument(help="Module API names, e.g. Leads Contacts Deals.")
    ],
    product: Annotated[str, typer.Option("--product", help="crm or recruit.")] = "crm",
    full: Annotated[
        bool, typer.Option("--full", help="Export everything instead of changes since last run.")
    ] = False,
    overlap_minutes: Annotated[
        float, typer.Option("--overlap-minutes", min=0, help="Incremental re-read overlap.")
    ] = 10.0,
    data_dir: DataDir = Path("data"),
    warehouse_url: WarehouseUrl = None,
    simulator: Simulator = None,
    sim_org: SimOrg = "us-enterprise",
    credentials_block: CredentialsBlock = None,
    credit_budget: Budget = None,
    concurrency: Concurrency = 4,
    runner: Runner = "threads",
    dask_address: DaskAddress = None,
    keep_landing: KeepLanding = False,
    landing_days: LandingDays = DEFAULT_LANDING_DAYS,
) -> None:
    """Export modules (incremental from each module's watermark, or --full)."""
    with _errors_as_exit_codes():
        from engine.modules import validate_module, validate_product

        name = validate_product(product)
        names = [validate_module(name, m) for m in modules]
        settings = _run_settings(
            data_dir, warehouse_url, credit_budget, concurrency, runner, dask_address
        )
        settings = with_landing(settings, keep_landing, landing_days)
        connection = _connection(simulator, sim_org, credentials_block)  # fails fast
        from cli.reporting import print_rows
        from flows.connection import run_overrides
        from flows.export import export_flow

        with (
            _progress(f"exporting {name} {', '.join(names)}"),
            run_overrides(settings=settings, connection=connection),
        ):
            rows = export_flow(
                product=name,
                modules=names,
                mode="full" if full else "incremental",
                overlap_minutes=overlap_minutes,
            )
        print_rows(f"export {name}", rows)


@app.command()
def backfill(
    module: Annotated[str, typer.Argument(help="Module API name, e.g. Deals.")],
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--end", help="Day after the last one (YYYY-MM-DD).")],
    product: Annotated[str, typer.Option("--product", help="crm or recruit.")] = "crm",
    window_days: Annotated[
        float, typer.Option("--window-days", min=0.001, help="Initial window length in days.")
    ] = 30.0,
    data_dir: DataDir = Path("data"),
    warehouse_url: WarehouseUrl = None,
    simulator: Simulator = None,
    sim_org: SimOrg = "us-enterprise",
    credentials_block: CredentialsBlock = None,
    credit_budget: Budget = None,
    concurrency: Concurrency = 4,
    runner: Runner = "threads",
    dask_address: DaskAddress = None,
    keep_landing: KeepLanding = False,
    landing_days: LandingDays = DEFAULT_LANDING_DAYS,
) -> None:
    """Backfill one module between two dates, in windows that each fit one bulk page."""
    with _errors_as_exit_codes():
        from engine.errors import BadDateRangeError
        from engine.modules import validate_module, validate_product

        name = validate_product(product)
        module = validate_module(name, module)
        first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
        if last <= first:
            raise BadDateRangeError(start, end, "--end must be after --start")
        settings = _run_settings(
            data_dir, warehouse_url, credit_budget, concurrency, runner, dask_address
        )
        settings = with_landing(settings, keep_landing, landing_days)
        connection = _connection(simulator, sim_org, credentials_block)
        from cli.reporting import print_rows
        from flows.backfill import backfill_flow
        from flows.connection import run_overrides

        with (
            _progress(f"backfilling {name} {module} {start}..{end}"),
            run_overrides(settings=settings, connection=connection),
        ):
            rows = backfill_flow(
                product=name, module=module, start=first, end=last, window_days=window_days
            )
        print_rows(f"backfill {name} {module}", rows)


@app.command()
def write(
    source: Annotated[
        str,
        typer.Argument(
            help="Rows to write: a Parquet file or directory, table:NAME (warehouse table) "
            "or 'sql:SELECT ...' (query on the warehouse)."
        ),
    ],
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping",
            help="Mapping file (YAML): module, operation, fields; with children: a "
            "parent/child write (CRM).",
        ),
    ],
    product: Annotated[str, typer.Option("--product", help="crm or recruit.")] = "crm",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only: no upload, no write credits.")
    ] = False,
    on_invalid: Annotated[
        str,
        typer.Option("--on-invalid", help="send_valid (reject bad rows) or stop (send nothing)."),
    ] = "send_valid",
    data_dir: DataDir = Path("data"),
    warehouse_url: WarehouseUrl = None,
    simulator: Simulator = None,
    sim_org: SimOrg = "us-enterprise",
    credentials_block: CredentialsBlock = None,
    credit_budget: Budget = None,
    attach_job: Annotated[
        list[str] | None,
        typer.Option(
            "--attach-job",
            help="CHUNK=JOB_ID: a job Zoho created for that chunk of the saved write whose "
            "id was lost in a crash (the resume error names the chunk). Repeatable.",
        ),
    ] = None,
) -> None:
    """Bulk-write rows into a Zoho module (or --dry-run to validate them).

    A killed write resumes when the same command is run again (same rows, in any order):
    no row is sent twice.
    """
    with _errors_as_exit_codes():
        from engine.modules import validate_product

        name = validate_product(product)
        if not mapping.exists():
            raise UsageError(f"--mapping {mapping}: no such file")
        if on_invalid not in {"send_valid", "stop"}:
            raise UsageError(f"--on-invalid {on_invalid!r}: choose send_valid or stop")
        attached = _attached_jobs(attach_job or [])
        settings = _run_settings(data_dir, warehouse_url, credit_budget, 1, "threads", None)
        _check_sql_source(source, settings.effective_warehouse_url)
        connection = _connection(simulator, sim_org, credentials_block)
        from cli.reporting import print_rows
        from flows.connection import run_overrides
        from flows.writeback import writeback_flow

        with (
            _progress("validating" if dry_run else "writing"),
            run_overrides(settings=settings, connection=connection),
        ):
            summary = writeback_flow(  # type: ignore[call-overload]
                product=name,
                mapping_path=str(mapping),
                source=source,
                dry_run=dry_run,
                on_invalid=on_invalid,
                attach_jobs=attached,
            )
        for part in summary.modules:  # a parent/child write: the parent, then each child
            print_rows(
                f"{'dry run' if dry_run else 'bulk write'} {name} {part.module} "
                f"({part.jobs} job(s), {part.credits_needed} credits)",
                [{"status": k, "rows": v} for k, v in part.counts.items()],
            )
            if part.issues:
                print_rows(
                    f"invalid {part.module} rows per error",
                    [{"error": k, "rows": v} for k, v in part.issues.items()],
                )
            if part.results_parquet:
                typer.echo(f"per-row results: {part.results_parquet}")


def _attached_jobs(values: list[str]) -> dict[int, str] | None:
    """``--attach-job 0=4876...`` values as {chunk: job id}."""
    jobs: dict[int, str] = {}
    for value in values:
        chunk, sep, job_id = value.partition("=")
        if not sep or not chunk.strip().isdigit() or not job_id.strip().isdigit():
            raise UsageError(f"--attach-job {value!r}: use CHUNK=JOB_ID (two numbers)")
        jobs[int(chunk)] = job_id.strip()
    return jobs or None


def _check_sql_source(source: str, warehouse_url: str) -> None:
    """Refuse a ``sql:`` source that is not one SELECT before anything starts (exit 2)."""
    if not source.startswith("sql:"):
        return
    from engine.errors import SourceError
    from transforms.writeback.sql_source import SourceQueryError, single_select

    try:
        single_select(source.removeprefix("sql:"), strict=warehouse_url.startswith("duckdb"))
    except SourceQueryError as exc:
        raise SourceError(source, exc.problem) from None


@app.command()
def serve(
    file: Annotated[Path, typer.Option("--file", help="The deployments file.")] = Path(
        "prefect.yaml"
    ),
    list_only: Annotated[
        bool, typer.Option("--list", help="Print the deployments instead of serving them.")
    ] = False,
) -> None:
    """Serve every deployment of prefect.yaml (schedules included) from this process."""
    with _errors_as_exit_codes():
        from cli.reporting import print_rows
        from flows.deployments import read_specs, serve_file

        specs = read_specs(file)
        print_rows(
            f"deployments in {file}",
            [
                {
                    "name": s.name,
                    "flow": s.entrypoint,
                    "schedules": s.schedule_text(),
                    "concurrency": s.concurrency.limit if s.concurrency else "-",
                    "paused": s.paused,
                }
                for s in specs
            ],
        )
        if not list_only:
            _own_prefect_server()
            serve_file(file)


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo writes (wiped first).")
    ] = Path("data/demo"),
) -> None:
    """Run the full round trip against the embedded simulator and print a summary."""
    with _errors_as_exit_codes():
        from cli.demo import run_demo

        _own_prefect_server()
        report = run_demo(data_dir)
        if any(r.result.startswith("FAILED") for r in report.rows):
            raise typer.Exit(int(ExitCode.RUN_FAILED))


@app.command()
def status(
    data_dir: DataDir = Path("data"),
    warehouse_url: WarehouseUrl = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Jobs to list.")] = 20,
) -> None:
    """Show the job ledger (recent extracts and bulk jobs) and the watermarks."""
    with _errors_as_exit_codes():
        from cli.reporting import print_status
        from engine.settings import RunSettings

        settings = RunSettings.from_env(data_dir=str(data_dir), warehouse_url=warehouse_url)
        print_status(settings, limit=limit)


def _own_prefect_server() -> None:
    """Start the temporary Prefect server that dies with this process (flows/prefect_server)."""
    from cli.prefect_server import ensure_prefect_api

    ensure_prefect_api()


@contextmanager
def _progress(what: str) -> Iterator[None]:
    """A spinner on stderr while long work runs (quiet when not a terminal); flows run in it."""
    from rich.console import Console

    _own_prefect_server()
    console = Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    with console.status(what):
        yield


def configure_prefect_env(argv: list[str]) -> None:
    """Prefect settings the CLI needs, set before Prefect is imported (user values win)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    if argv[:1] == ["demo"]:
        # the demo prints its own summary; task-by-task logs would bury it
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _quiet_interpreter_teardown() -> None:
    """Silence stderr for the interpreter's final teardown (registered first, runs last).

    DuckDB's bindings (nanobind) report objects still referenced from Prefect's worker
    threads as "leaked" when the process exits: harmless, but dozens of lines after every
    command. Everything the command had to say has been printed by then.
    """
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``zoho-etl``)."""
    args = argv if argv is not None else sys.argv[1:]
    from cli.creator import creator_argv

    args = creator_argv(args)  # export --product creator: the Creator command
    configure_prefect_env(args)
    if argv is None:
        atexit.register(_quiet_interpreter_teardown)
    try:
        app(args=args, prog_name="zoho-etl")
    finally:
        if "engine.runtime" in sys.modules:
            from engine.runtime import close_runtimes

            close_runtimes()


from cli.creator import register as _register_creator  # noqa: E402 (needs `app`)

_register_creator(app)
