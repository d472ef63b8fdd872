"""``zoho-etl query`` and ``zoho-etl lake optimize|vacuum``: the module tables of the lake.

``query MODULE "SELECT ..."`` runs exactly one SELECT (the write-back ``sql:`` source's check,
`transforms.writeback.sql_source.single_select`) in an in-memory DuckDB that sees one table,
named after the module: the lake table's Arrow dataset (current version, or ``--version``).
File access is switched off, so the query reads the table and nothing else. With
``--product creator`` the table is a report's: ``creator_{app}_{report}`` (or ``APP/REPORT``,
named so), as in the warehouse.

``--keep-landing`` / ``--landing-days`` (export, backfill) keep the per-page landing Parquet.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.errors import UsageError
from engine.settings import RunSettings

lake_app = typer.Typer(help="Maintenance of the lake's module tables.", no_args_is_help=True)

#: the landing files' default retention with --keep-landing
DEFAULT_LANDING_DAYS = 7.0
#: a longer retention than this (a century) is a typo, not a policy
MAX_RETENTION_DAYS = 36_500.0

KeepLanding = Annotated[
    bool,
    typer.Option(
        "--keep-landing",
        help="Keep each page's landing Parquet (default: removed once the page is in the lake).",
    ),
]
LandingDays = Annotated[
    float | None,
    typer.Option(
        "--landing-days",
        min=0,
        help="With --keep-landing: days the landing files are kept "
        "(env ZOHO_ETL_KEEP_LANDING_DAYS, default 7).",
    ),
]
Product = Annotated[str, typer.Option("--product", help="crm, recruit or creator.")]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The data dir: downloads, the lake ({data dir}/lake), the DuckDB file "
        "(env ZOHO_ETL_DATA_DIR, default ./data).",
    ),
]


def settings_for(data_dir: Path | None, warehouse_url: str | None = None) -> RunSettings:
    """The environment's settings; ``--data-dir`` (and ``--warehouse-url``), when given,
    over ``ZOHO_ETL_DATA_DIR`` (and ``ZOHO_ETL_WAREHOUSE_URL``)."""
    directory = None if data_dir is None else str(data_dir)
    return RunSettings.from_env(data_dir=directory, warehouse_url=warehouse_url)


def with_landing(settings: RunSettings, keep: bool, days: float | None) -> RunSettings:
    """``settings`` keeping landing files when ``keep`` is set: ``days`` days, else the
    environment's ``ZOHO_ETL_KEEP_LANDING_DAYS``, else 7."""
    if days is not None and not keep:
        raise UsageError(
            "--landing-days N needs --keep-landing (the landing files are kept N days)"
        )
    if not keep:
        return settings
    days = days if days is not None else settings.keep_landing_days or DEFAULT_LANDING_DAYS
    return settings.model_copy(update={"keep_landing_days": days})


def lake_table_name(product: str, module: str) -> tuple[str, str]:
    """``(product, table)`` of the lake table ``module`` names: a module of crm / recruit, or
    for creator a report as ``creator_{app}_{report}`` or ``APP/REPORT``."""
    from engine.creator_source import PRODUCT as CREATOR
    from engine.creator_source import table_for
    from engine.modules import validate_module, validate_product
    from transforms.errors import InvalidIdentifierError
    from transforms.identifiers import validate_api_name

    if product != CREATOR:
        name = validate_product(product)
        return name, validate_module(name, module)
    app, slash, report = module.partition("/")
    table = table_for(app, report) if slash and app and report else module
    if not table.startswith(f"{CREATOR}_"):
        raise UsageError(
            f"creator table {module!r}: name it creator_{{app}}_{{report}} or APP/REPORT"
        )
    try:
        return CREATOR, validate_api_name(table, "table")
    except InvalidIdentifierError as exc:
        raise UsageError(f"creator table {module!r}: {exc}") from None


def run_query(
    settings: RunSettings, product: str, module: str, sql: str, version: int | None = None
) -> Any:
    """One SELECT over the module's lake table; the result as an Arrow table."""
    import duckdb

    from engine.lake import open_lake_table
    from transforms.lake.reading import arrow_source
    from transforms.writeback.sql_source import SourceQueryError, single_select

    try:
        text = single_select(sql)
    except SourceQueryError as exc:
        raise UsageError(f"query on {product} {module}: {exc.problem}") from None
    table = open_lake_table(settings, product, module)
    if not table.exists:
        raise UsageError(f"{product} {module} has no lake table at {table.location}; export it")
    delta = table.delta_table()
    if version is not None and version > delta.version():
        raise UsageError(
            f"query on {product} {module}: --version {version} does not exist "
            f"(versions 0 to {delta.version()})"
        )
    delta = delta if version is None else table.as_of(version)
    connection = duckdb.connect(":memory:")
    try:
        connection.register(module, arrow_source(delta))
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        return connection.sql(text).to_arrow_table()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"query on {product} {module}: {first}") from None
    finally:
        connection.close()


def query(
    module: Annotated[
        str,
        typer.Argument(
            help="Module API name (creator: creator_{app}_{report} or APP/REPORT); "
            "the query's table name."
        ),
    ],
    sql: Annotated[
        str, typer.Argument(help='Exactly one SELECT, e.g. "SELECT count(*) FROM Leads".')
    ],
    product: Product = "crm",
    data_dir: DataDir = None,
    version: Annotated[
        int | None, typer.Option("--version", min=0, help="Query this table version (time travel).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the rows as a JSON array.")
    ] = False,
) -> None:
    """Run one SELECT over a module's lake table (DuckDB, read-only)."""
    from cli.exit_codes import errors_as_exit_codes

    with errors_as_exit_codes():
        name, module = lake_table_name(product, module)
        settings = settings_for(data_dir)
        rows = run_query(settings, name, module, sql, version).to_pylist()
        if as_json:
            typer.echo(json.dumps(rows, default=str, ensure_ascii=False))
            return
        _print_result(f"{name} {module}: {len(rows)} row(s)", rows)


def _print_result(title: str, rows: list[dict[str, Any]]) -> None:
    """The rows as a table under a one-line title (nulls shown as NULL)."""
    from rich.table import Table

    from cli.reporting import make_console

    console = make_console()
    console.print(title, soft_wrap=True)
    if not rows:
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row.values()))
    console.print(table)


@lake_app.command("optimize")
def optimize(
    modules: Annotated[list[str], typer.Argument(help="Module API names.")],
    product: Product = "crm",
    data_dir: DataDir = None,
) -> None:
    """Compact each module table's small files (a new version; the data is unchanged)."""
    _maintain(product, modules, data_dir, lambda t: _optimized(t.optimize()))


@lake_app.command("vacuum")
def vacuum(
    modules: Annotated[list[str], typer.Argument(help="Module API names.")],
    product: Product = "crm",
    data_dir: DataDir = None,
    retention_days: Annotated[
        float, typer.Option("--retention-days", min=0, help="Keep files versions this young use.")
    ] = 7.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the files only.")] = False,
) -> None:
    """Delete files no table version younger than the retention uses (time travel past it ends)."""
    if not retention_days <= MAX_RETENTION_DAYS:
        raise typer.BadParameter(
            f"{retention_days} is not a number of days up to {MAX_RETENTION_DAYS}",
            param_hint="--retention-days",
        )
    retention = timedelta(days=retention_days)
    _maintain(
        product,
        modules,
        data_dir,
        lambda t: {"files": len(t.vacuum(retention, dry_run=dry_run)), "dry_run": dry_run},
    )


def _optimized(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "files_removed": metrics.get("numFilesRemoved"),
        "files_added": metrics.get("numFilesAdded"),
    }


def _maintain(product: str, modules: list[str], data_dir: Path | None, step: Any) -> None:
    from cli.exit_codes import errors_as_exit_codes

    with errors_as_exit_codes():
        from cli.reporting import print_rows
        from engine.lake import open_lake_table

        pairs = [lake_table_name(product, m) for m in modules]
        name, names = pairs[0][0], [m for _, m in pairs]
        settings = settings_for(data_dir)
        tables = {module: open_lake_table(settings, name, module) for module in names}
        for module, table in tables.items():  # all checked before any is changed
            if not table.exists:
                raise UsageError(f"{name} {module} has no lake table at {table.location}")
        rows = []
        for module, table in tables.items():
            rows.append({"module": module, **step(table), "version": table.version})
        print_rows(f"lake {name}", rows)


def register(app: typer.Typer) -> None:
    """Add ``query`` and ``lake`` to the ``zoho-etl`` app."""
    app.command()(query)
    app.add_typer(lake_app, name="lake")
