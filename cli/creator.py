"""``zoho-etl`` commands for Zoho Creator: a report's export and retention deletes.

    zoho-etl export --product creator --app APP --report REPORT [--full] [--owner OWNER]
                    [--keep-landing [--landing-days N]]
    zoho-etl delete --product creator --app APP --report REPORT --criteria '…' (--dry-run | --yes)

``export --product creator`` is routed here before the CRM/Recruit ``export`` parses its
arguments (``creator_argv``). The account owner comes from ``--owner`` or
``ZOHO_CREATOR_OWNER``, else from the applications list when the app name is unique. The
account's plan, users and time zone (the daily Developer API allowance) come from
``ZOHO_CREATOR_PLAN`` / ``_USERS`` / ``_TIME_ZONE``; ``--daily-calls`` (or
``ZOHO_CREATOR_DAILY_CALLS``) caps them lower. Exit codes are the CLI's: 2 bad input, 3 the
daily call cap (the call that would exceed it is not made; re-run after midnight to resume),
4 credentials, 1 a Zoho failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.lake import DataDir, KeepLanding, LandingDays

if TYPE_CHECKING:
    from engine.creator_source import CreatorSettings
    from engine.runtime import Runtime

HIDDEN_EXPORT = "creator-export"

App = Annotated[str, typer.Option("--app", help="The application's link name, e.g. order-desk.")]
Report = Annotated[str, typer.Option("--report", help="The report's link name, e.g. All_Orders.")]
Product = Annotated[str, typer.Option("--product", help="creator.")]
Owner = Annotated[
    str | None,
    typer.Option("--owner", help="Account owner (env ZOHO_CREATOR_OWNER; default: found)."),
]
DailyCalls = Annotated[
    int | None,
    typer.Option(
        "--daily-calls", min=0, help="Cap on today's Developer API calls (default: the plan's)."
    ),
]
WarehouseUrl = Annotated[
    str | None, typer.Option("--warehouse-url", help="SQLAlchemy URL of the warehouse.")
]
Simulator = Annotated[
    str | None, typer.Option("--simulator", help="Base URL of a running `zoho-etl sim serve`.")
]
SimOrg = Annotated[str, typer.Option("--sim-org", help="Which simulated org to use.")]
CredentialsBlock = Annotated[
    str | None,
    typer.Option("--credentials-block", help="A saved ZohoCredentials Prefect block's name."),
]


def creator_argv(args: list[str]) -> list[str]:
    """``export --product creator …`` becomes this module's export command; others unchanged."""
    if args[:1] != ["export"]:
        return args
    for index, arg in enumerate(args):
        if arg == "--product" and args[index + 1 : index + 2] == ["creator"]:
            return [HIDDEN_EXPORT, *args[1:]]
        if arg == "--product=creator":
            return [HIDDEN_EXPORT, *args[1:]]
    return args


@contextmanager
def _exit_codes() -> Iterator[None]:
    from cli.main import exit_code_for

    try:
        yield
    except KeyboardInterrupt:
        typer.secho("zoho-etl: interrupted; re-run to resume", err=True, fg=typer.colors.RED)
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # one line and a documented exit code, as every command
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.secho(f"zoho-etl: {message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(int(exit_code_for(exc))) from None


def _check_product(product: str) -> None:
    from engine.errors import UsageError

    if product != "creator":
        raise UsageError(f"--product {product!r}: this command takes --product creator")


def _runtime(
    data_dir: Path | None,
    warehouse_url: str | None,
    simulator: str | None,
    sim_org: str,
    credentials_block: str | None,
    landing: tuple[bool, float | None] = (False, None),
) -> Runtime:
    from cli.lake import settings_for, with_landing
    from engine.runtime import runtime_for
    from flows.connection import resolve_connection

    settings = settings_for(data_dir, warehouse_url=warehouse_url)
    settings = with_landing(settings, *landing)
    connection = resolve_connection(
        simulator_url=simulator, sim_org=sim_org, credentials_block=credentials_block
    )
    return runtime_for(connection, settings)


def _creator(owner: str | None, daily_calls: int | None) -> CreatorSettings:
    from engine.creator_source import CreatorSettings

    return CreatorSettings.from_env(owner=owner, daily_calls=daily_calls)


def creator_export(
    app_name: App,
    report: Report,
    product: Product = "creator",
    full: Annotated[bool, typer.Option("--full", help="Re-read every record.")] = False,
    owner: Owner = None,
    form: Annotated[
        str | None, typer.Option("--form", help="The report's form (default: recognised).")
    ] = None,
    overlap_minutes: Annotated[
        float, typer.Option("--overlap-minutes", min=0, help="Incremental re-read overlap.")
    ] = 10.0,
    daily_calls: DailyCalls = None,
    keep_landing: KeepLanding = False,
    landing_days: LandingDays = None,
    data_dir: DataDir = None,
    warehouse_url: WarehouseUrl = None,
    simulator: Simulator = None,
    sim_org: SimOrg = "us-enterprise",
    credentials_block: CredentialsBlock = None,
) -> None:
    """Export a Creator report into the warehouse and lake tables creator_{app}_{report}
    (incremental, or --full)."""
    with _exit_codes():
        _check_product(product)
        from cli.reporting import print_rows
        from engine.creator_export import CreatorExportOptions, export_creator_report

        creator = _creator(owner, daily_calls)
        rt = _runtime(
            data_dir, warehouse_url, simulator, sim_org, credentials_block,
            (keep_landing, landing_days),
        )  # fmt: skip
        options = CreatorExportOptions(
            mode="full" if full else "incremental", overlap=timedelta(minutes=overlap_minutes)
        )
        summary = export_creator_report(
            rt, app_name, report, creator=creator, options=options, form=form
        )
        row: dict[str, Any] = {**summary.as_row(), "table": summary.table}
        row["calls"] = row.pop("credits")
        print_rows("export creator", [row])


def delete(
    app_name: App,
    report: Report,
    criteria: Annotated[
        str, typer.Option("--criteria", help="Creator criteria of the records to delete.")
    ],
    product: Product = "creator",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count and list matching ids; delete nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete the matching records.")] = False,
    all_records: Annotated[
        bool, typer.Option("--all", help="Allow a criteria matching every record.")
    ] = False,
    owner: Owner = None,
    daily_calls: DailyCalls = None,
    data_dir: DataDir = None,
    warehouse_url: WarehouseUrl = None,
    simulator: Simulator = None,
    sim_org: SimOrg = "us-enterprise",
    credentials_block: CredentialsBlock = None,
) -> None:
    """Delete a Creator report's records matching --criteria (retention), or --dry-run."""
    with _exit_codes():
        _check_product(product)
        from engine.errors import UsageError
        from engine.retention import check_criteria, retention_for_report

        if dry_run == yes:
            raise UsageError("delete: pass --dry-run to count matching records, or --yes to delete")
        check_criteria(criteria, allow_all=all_records)
        from cli.reporting import print_rows

        creator = _creator(owner, daily_calls)
        rt = _runtime(data_dir, warehouse_url, simulator, sim_org, credentials_block)
        result = retention_for_report(
            rt, app_name, report, criteria, creator=creator, dry_run=dry_run,
            allow_all=all_records,
        )  # fmt: skip
        print_rows("delete creator", [result.as_row()])
        for record_id, code, message in result.failed[:20]:
            typer.echo(f"failed: {record_id} ({code}) {message}")
        if result.ids_path:
            typer.echo(f"matching ids: {result.ids_path}")
        typer.echo(result.message)


def register(app: typer.Typer) -> None:
    """Add the Creator commands to the ``zoho-etl`` app."""
    app.command(HIDDEN_EXPORT, hidden=True)(creator_export)
    app.command("delete")(delete)
