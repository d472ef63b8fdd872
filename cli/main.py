"""The ``zoho-etl`` command line.

Commands: ``export``, ``backfill``, ``write``, ``status``, ``settings``, ``sim serve``,
``demo``, ``serve``, ``query``, ``lake optimize|vacuum`` (``cli.lake``). The run commands
share ``cli.options.RunOptions`` (flag > environment >
default); errors map to exit codes in ``cli.exit_codes`` (one stderr line, ``-v`` adds the
traceback); ``cli.progress`` shows the run live and turns the first Ctrl-C into a clean stop.
"""

from __future__ import annotations

import atexit
import json as jsonlib
import sys
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.exit_codes import ExitCode, errors_as_exit_codes, exit_code_for
from cli.lake import KeepLanding, LandingDays, with_landing
from cli.lake import register as register_lake_commands
from cli.options import RunOptions, run_options
from cli.prefect_server import configure_prefect_env
from cli.prefect_server import quiet_interpreter_teardown as _quiet_interpreter_teardown
from cli.reporting import print_summary
from cli.running import own_prefect_server, progress, run_errors
from engine.errors import UsageError

__all__ = ["ExitCode", "app", "exit_code_for", "main"]

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


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"zoho-etl {version('zoho-bulk-etl')}")
        except PackageNotFoundError:
            typer.echo("zoho-etl (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Bulk export, incremental sync, backfill and write-back for Zoho CRM and Recruit."""


def _parse_day(value: str, option: str) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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
    with errors_as_exit_codes():
        from engine.simulated import sim_config

        config = sim_config(records=records, per_page=per_page, seed=seed)
        from simulator.testing import serve

        typer.echo(f"Zoho simulator on http://127.0.0.1:{port} (Ctrl-C stops it)")
        try:
            serve(port, config)
        except KeyboardInterrupt:
            typer.echo("simulator stopped")


@app.command()
@run_options()
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
    keep_landing: KeepLanding = False,
    landing_days: LandingDays = None,
    *,
    options: RunOptions,
) -> None:
    """Export modules (incremental from each module's watermark, or --full)."""
    with run_errors(options, f"export {product}"):
        from engine.modules import validate_module, validate_product

        name = validate_product(product)
        names = list(dict.fromkeys(validate_module(name, m) for m in modules))  # once each
        settings = with_landing(options.settings(), keep_landing, landing_days)
        connection = options.connection()  # fails fast
        from flows.connection import run_overrides
        from flows.export import export_flow

        with (
            progress(f"exporting {name} {', '.join(names)}", options),
            run_overrides(settings=settings, connection=connection),
        ):
            rows = export_flow(
                product=name,
                modules=names,
                mode="full" if full else "incremental",
                overlap_minutes=overlap_minutes,
            )
        print_summary(options.json, f"export {name}", rows)


@app.command()
@run_options()
def backfill(
    module: Annotated[str, typer.Argument(help="Module API name, e.g. Deals.")],
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--end", help="Day after the last one (YYYY-MM-DD).")],
    product: Annotated[str, typer.Option("--product", help="crm or recruit.")] = "crm",
    window_days: Annotated[
        float, typer.Option("--window-days", min=0.001, help="Initial window length in days.")
    ] = 30.0,
    keep_landing: KeepLanding = False,
    landing_days: LandingDays = None,
    *,
    options: RunOptions,
) -> None:
    """Backfill one module between two dates, in windows that each fit one bulk page."""
    with run_errors(options, f"backfill {product} {module}"):
        from engine.errors import BadDateRangeError
        from engine.modules import validate_module, validate_product

        name = validate_product(product)
        module = validate_module(name, module)
        first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
        if last <= first:
            raise BadDateRangeError(start, end, "--end must be after --start")
        settings = with_landing(options.settings(), keep_landing, landing_days)
        connection = options.connection()
        from flows.backfill import backfill_flow
        from flows.connection import run_overrides

        with (
            progress(f"backfilling {name} {module} {start}..{end}", options),
            run_overrides(settings=settings, connection=connection),
        ):
            rows = backfill_flow(
                product=name, module=module, start=first, end=last, window_days=window_days
            )
        print_summary(options.json, f"backfill {name} {module}", rows)


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
    with errors_as_exit_codes():
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
            own_prefect_server()
            serve_file(file)


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo writes (wiped first).")
    ] = Path("data/demo"),
) -> None:
    """Run the full round trip against the embedded simulator and print a summary."""
    with errors_as_exit_codes():
        from cli.demo import run_demo

        own_prefect_server()
        report = run_demo(data_dir)
        if any(r.result.startswith("FAILED") for r in report.rows):
            raise typer.Exit(int(ExitCode.RUN_FAILED))


@app.command()
@run_options(
    exclude=(
        "simulator",
        "sim_org",
        "credentials_block",
        "credit_budget",
        "concurrency",
        "runner",
        "dask_address",
    )
)
def status(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Jobs to list.")] = 20,
    *,
    options: RunOptions,
) -> None:
    """Show the job ledger (recent extracts and bulk jobs) and the watermarks."""
    with errors_as_exit_codes(verbose=options.verbose):
        from cli.reporting import print_status, status_data

        settings = options.settings()
        data = status_data(settings, limit=limit)
        if options.json:
            typer.echo(jsonlib.dumps(data, default=str))
        else:
            print_status(data, settings.data_dir)


@app.command("settings")
@run_options(exclude=("json",))
def show_settings(*, options: RunOptions) -> None:
    """Print the settings a run would use (flags > environment > defaults) as JSON; no secrets."""
    with errors_as_exit_codes(verbose=options.verbose):
        settings = options.settings()
        document: dict[str, Any] = {
            "settings": settings.model_dump(mode="json", exclude={"warehouse_url"}),
            "warehouse": settings.effective_warehouse_url.partition("://")[0],
        }
        from engine.errors import MissingCredentialsError

        try:
            connection = options.connection()
        except MissingCredentialsError as missing:
            document["connection"] = {"missing": list(missing.missing)}
        else:
            document["connection"] = connection.model_dump(
                mode="json", exclude={"client_secret", "refresh_token"}
            )
        from engine.creator_source import CreatorSettings

        creator = CreatorSettings.from_env()
        document["creator"] = {
            **creator.model_dump(mode="json"),
            "calls_per_day": creator.calls_per_day,
        }
        typer.echo(jsonlib.dumps(document))


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
from cli.write import register as _register_write  # noqa: E402

_register_write(app)
_register_creator(app)
