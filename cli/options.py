"""The options every run command shares, declared once, and the settings they resolve to.

Precedence of every setting: command-line flag > environment variable (``ZOHO_ETL_*``,
``ZOHO_*``) > the default of ``engine.settings.RunSettings``. A flag left out is ``None`` and
never hides the environment.

``@run_options()`` adds the shared options to a command's signature (typer reads it) and
hands the command one ``RunOptions`` value in its ``options`` parameter.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.settings import RunSettings, ZohoConnection

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RunOptions:
    """The shared options of ``export``, ``backfill``, ``write`` and ``status``."""

    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Downloads, Parquet, rejects and the DuckDB file go here "
            "(env ZOHO_ETL_DATA_DIR, default ./data).",
        ),
    ] = None
    warehouse_url: Annotated[
        str | None,
        typer.Option(
            "--warehouse-url",
            help="SQLAlchemy URL of the warehouse (env ZOHO_ETL_WAREHOUSE_URL; "
            "default: DuckDB file in the data dir).",
        ),
    ] = None
    simulator: Annotated[
        str | None,
        typer.Option(
            "--simulator",
            help="Base URL of a running `zoho-etl sim serve`; uses the simulated org's "
            "credentials.",
        ),
    ] = None
    sim_org: Annotated[
        str, typer.Option("--sim-org", help="Which simulated org to use with --simulator.")
    ] = "us-enterprise"
    credentials_block: Annotated[
        str | None,
        typer.Option(
            "--credentials-block",
            help="Name of a saved ZohoCredentials Prefect block (default: ZOHO_* variables).",
        ),
    ] = None
    credit_budget: Annotated[
        int | None,
        typer.Option(
            "--credit-budget",
            min=0,
            help="Daily credit budget of the org across all flows (env ZOHO_ETL_CREDIT_BUDGET).",
        ),
    ] = None
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            max=25,
            help="Modules or windows run at once (env ZOHO_ETL_CONCURRENCY, default 4).",
        ),
    ] = None
    runner: Annotated[
        str, typer.Option("--runner", help="Task runner: threads (default) or dask.")
    ] = "threads"
    dask_address: Annotated[
        str | None,
        typer.Option("--dask-address", help="Dask scheduler address (default: a local cluster)."),
    ] = None
    json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (logs: stderr).")
    ] = False
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Add the traceback to an error.")
    ] = False

    def settings(self) -> RunSettings:
        """The run settings: these flags over ``ZOHO_ETL_*`` over the defaults."""
        from engine.settings import RunSettings

        if self.runner not in {"threads", "dask"}:
            raise UsageError(f"--runner {self.runner!r}: choose threads or dask")
        settings = RunSettings.from_env(
            data_dir=None if self.data_dir is None else str(self.data_dir),
            warehouse_url=self.warehouse_url,
            credit_budget=self.credit_budget,
            concurrency=self.concurrency,
            task_runner=self.runner,
            dask_address=self.dask_address,
        )
        check_warehouse_url(settings.effective_warehouse_url)
        return settings

    def connection(self) -> ZohoConnection:
        """The Zoho connection: --simulator, --credentials-block, then ``ZOHO_*``."""
        from flows.connection import resolve_connection

        return resolve_connection(
            simulator_url=self.simulator,
            sim_org=self.sim_org,
            credentials_block=self.credentials_block,
        )


def check_warehouse_url(url: str) -> None:
    """Refuse a warehouse URL SQLAlchemy cannot use, naming only its scheme (no password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    scheme = url.partition("://")[0] or url[:20]
    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise UsageError(
            f"warehouse URL {scheme!r}...: not a usable SQLAlchemy URL "
            "(e.g. postgresql+psycopg://user@host/db or duckdb:///file.duckdb)"
        ) from None


_OPTIONS = {f.name: f for f in fields(RunOptions)}


def run_options(*, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Add the shared options (minus ``exclude``) to a command taking ``options: RunOptions``."""

    def decorate(command: F) -> F:
        own = inspect.signature(command, eval_str=True)
        kept = [p for name, p in own.parameters.items() if name != "options"]
        hints = inspect.get_annotations(RunOptions, eval_str=True)
        shared = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=field.default,
                annotation=hints[name],
            )
            for name, field in _OPTIONS.items()
            if name not in exclude
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = {name: kwargs.pop(name) for name in list(kwargs) if name in _OPTIONS}
            return command(*args, options=RunOptions(**chosen), **kwargs)

        wrapper.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[
                *[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in kept],
                *shared,
            ]
        )
        return wrapper  # type: ignore[return-value]

    return decorate
