"""``zoho-etl write``: rows from Parquet, a warehouse table or one SELECT, bulk-written into a
Zoho module through the write-back flow (or validated only, with ``--dry-run``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import RunOptions, run_options
from cli.reporting import print_write_summary
from cli.running import progress, run_errors
from cli.write_input import attached_jobs, check_sql_source
from engine.errors import UsageError


@run_options(exclude=("concurrency", "runner", "dask_address"))
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
    invalid_rows_csv: Annotated[
        bool,
        typer.Option(
            "--invalid-rows-csv",
            help="A dry run writes every invalid row (key, column, value, reason) to "
            "Parquet under the data directory; also write it as CSV.",
        ),
    ] = False,
    attach_job: Annotated[
        list[str] | None,
        typer.Option(
            "--attach-job",
            help="CHUNK=JOB_ID: a job Zoho created for that chunk of the saved write whose "
            "id was lost in a crash (the resume error names the chunk). Repeatable.",
        ),
    ] = None,
    *,
    options: RunOptions,
) -> None:
    """Bulk-write rows into a Zoho module (or --dry-run to validate them).

    A dry run writes every invalid row to writeback/invalid/{product}_{module}.parquet under
    the data directory, prints its path and shows the first 10.

    A killed write resumes when the same command is run again (same rows, in any order):
    no row is sent twice.
    """
    with run_errors(options, "dry run" if dry_run else "bulk write"):
        from engine.modules import validate_product

        name = validate_product(product)
        if not mapping.exists():
            raise UsageError(f"--mapping {mapping}: no such file")
        if on_invalid not in {"send_valid", "stop"}:
            raise UsageError(f"--on-invalid {on_invalid!r}: choose send_valid or stop")
        attached = attached_jobs(attach_job or [])
        settings = options.settings().model_copy(update={"concurrency": 1})
        check_sql_source(source, settings.effective_warehouse_url)
        connection = options.connection()
        from flows.connection import run_overrides
        from flows.writeback import writeback_flow

        with (
            progress("validating" if dry_run else "writing", options),
            run_overrides(settings=settings, connection=connection),
        ):
            summary = writeback_flow(  # type: ignore[call-overload]
                product=name,
                mapping_path=str(mapping),
                source=source,
                dry_run=dry_run,
                on_invalid=on_invalid,
                attach_jobs=attached,
                invalid_rows_csv=invalid_rows_csv,
            )
        print_write_summary(options.json, name, dry_run, summary)


def register(app: typer.Typer) -> None:
    app.command()(write)
