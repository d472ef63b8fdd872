"""What every run command shares: one-line errors with their exit codes (a partial failure
still prints its summary), the temporary Prefect server, and live progress."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from cli.exit_codes import errors_as_exit_codes, exit_code_for
from cli.options import RunOptions
from cli.reporting import print_summary
from engine.errors import RunFailedError


def resume_command() -> str:
    return " ".join(["zoho-etl", *sys.argv[1:]]) if sys.argv[1:] else ""


@contextmanager
def run_errors(options: RunOptions, title: str) -> Iterator[None]:
    """One-line errors with their exit codes; a partial failure still prints its summary."""
    with errors_as_exit_codes(verbose=options.verbose, resume_command=resume_command()):
        try:
            yield
        except RunFailedError as failed:
            if failed.rows:
                print_summary(options.json, title, failed.rows, failed=exit_code_for(failed))
            raise


def own_prefect_server() -> None:
    """Start the temporary Prefect server that dies with this process (flows/prefect_server)."""
    from cli.prefect_server import ensure_prefect_api

    ensure_prefect_api()


@contextmanager
def progress(what: str, options: RunOptions) -> Iterator[None]:
    """Live progress on stderr while the flow runs in this block (``cli.progress``)."""
    from cli.progress import live_progress

    own_prefect_server()
    with live_progress(what, verbose=options.verbose):
        yield
