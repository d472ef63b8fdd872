"""Every error of a ``zoho-etl`` command, classified once and mapped to its exit code.

====  ==================  ============================================================
code  kind                causes
====  ==================  ============================================================
0     -                   success
1     Zoho failure        a bulk job Zoho ended in FAILURE, a refused request, a timeout
1     warehouse failure   the warehouse or a Parquet write failed
1     internal            anything else (a bug: re-run with ``--verbose`` and report it)
2     bad input           an option, module, date, file, mapping (YAML, unknown field),
                          data centre or warehouse URL that cannot be used
3     budget              the credit budget cannot cover the run, or ran out mid-run
4     credentials         missing credentials, or a refresh token Zoho rejects
130   interrupted         Ctrl-C: the run stops at the next wait or committed page; the
                          same command resumes it
====  ==================  ============================================================

Errors raised inside a flow reach the CLI as a ``RunFailedError`` whose ``failures`` name each
failed module / window as ``"ErrorType: first line"``; the error types are looked up in the
project's error modules, so a module that failed on a rejected token still exits 4.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum, IntEnum

import typer

from engine.errors import (
    BudgetExceededError,
    MissingCredentialsError,
    RunFailedError,
    UsageError,
)


class ExitCode(IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    BUDGET = 3
    CREDENTIALS = 4
    INTERRUPTED = 130


class ErrorKind(Enum):
    """What failed, and so what the user can do (``hint``) and how the process exits."""

    CREDENTIALS = ("credentials", ExitCode.CREDENTIALS)
    BAD_INPUT = ("bad input", ExitCode.USAGE)
    BUDGET = ("budget", ExitCode.BUDGET)
    ZOHO = ("Zoho failure", ExitCode.RUN_FAILED)
    WAREHOUSE = ("warehouse failure", ExitCode.RUN_FAILED)
    INTERNAL = ("internal", ExitCode.RUN_FAILED)
    INTERRUPTED = ("interrupted", ExitCode.INTERRUPTED)

    def __init__(self, label: str, code: ExitCode) -> None:
        self.label = label
        self.code = code


#: (module, class name, kind): the specific classes, most specific first. Missing modules or
#: classes are skipped, so the table works before and after a package renames its errors.
_CLASSES: tuple[tuple[str, str, ErrorKind], ...] = (
    ("engine.cancel", "RunCancelledError", ErrorKind.INTERRUPTED),
    ("engine.errors", "MissingCredentialsError", ErrorKind.CREDENTIALS),
    ("connectors.errors", "AuthError", ErrorKind.CREDENTIALS),
    ("engine.errors", "UsageError", ErrorKind.BAD_INPUT),
    ("transforms.writeback.errors", "MappingError", ErrorKind.BAD_INPUT),
    ("transforms.writeback.errors", "PreflightError", ErrorKind.BAD_INPUT),
    ("engine.errors", "BudgetExceededError", ErrorKind.BUDGET),
    ("connectors.errors", "CreditBudgetExceededError", ErrorKind.BUDGET),
    ("transforms.errors", "TransformError", ErrorKind.WAREHOUSE),
    ("sqlalchemy.exc", "SQLAlchemyError", ErrorKind.WAREHOUSE),
    ("duckdb", "Error", ErrorKind.WAREHOUSE),
    ("psycopg", "Error", ErrorKind.WAREHOUSE),  # PostgreSQL reached without SQLAlchemy
    ("connectors.errors", "ZohoError", ErrorKind.ZOHO),
    ("engine.errors", "PageFailedError", ErrorKind.ZOHO),
    ("transforms.writeback.errors", "WritebackError", ErrorKind.ZOHO),
    ("recovery.errors", "EtlError", ErrorKind.ZOHO),
)


def _known_classes() -> list[tuple[type[BaseException], ErrorKind]]:
    known: list[tuple[type[BaseException], ErrorKind]] = []
    for module_name, class_name, kind in _CLASSES:
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        known.append((cls, kind))
    return known


def _class_named(name: str) -> type[BaseException] | None:
    """An error class of ours (or a subclass of one) by its ``__name__``."""
    pending: list[type[BaseException]] = [cls for cls, _ in _known_classes()]
    seen: set[type[BaseException]] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ == name:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def kind_of_class(cls: type[BaseException]) -> ErrorKind:
    for known, kind in _known_classes():
        if issubclass(cls, known):
            return kind
    return ErrorKind.INTERNAL


def failure_kind(reason: str) -> ErrorKind:
    """The kind of one ``RunFailedError.failures`` entry (``"ErrorType: message"``)."""
    name = reason.partition(":")[0].strip()
    cls = _class_named(name)
    return ErrorKind.INTERNAL if cls is None else kind_of_class(cls)


def kind_of(error: BaseException) -> ErrorKind:
    """The kind of any error a command can meet."""
    if isinstance(error, RunFailedError):
        if error.budget_exhausted:
            return ErrorKind.BUDGET
        kinds = {failure_kind(reason) for reason in error.failures.values()}
        if ErrorKind.INTERRUPTED in kinds:  # Ctrl-C: the other parts stopped with it
            return ErrorKind.INTERRUPTED
        if ErrorKind.CREDENTIALS in kinds:  # a rejected token fails every module alike
            return ErrorKind.CREDENTIALS
        if len(kinds) == 1:
            return kinds.pop()
        return ErrorKind.ZOHO
    if isinstance(error, MissingCredentialsError):
        return ErrorKind.CREDENTIALS
    if isinstance(error, UsageError):
        return ErrorKind.BAD_INPUT
    if isinstance(error, BudgetExceededError):
        return ErrorKind.BUDGET
    return kind_of_class(type(error))


def exit_code_for(error: BaseException) -> ExitCode:
    """The documented exit code of an error (errors raised inside flows included)."""
    return kind_of(error).code


_HINTS = {
    ErrorKind.CREDENTIALS: "check ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET / ZOHO_REFRESH_TOKEN",
    ErrorKind.ZOHO: "re-run the same command to resume",
    ErrorKind.WAREHOUSE: "check the warehouse, then re-run the same command to resume",
    ErrorKind.INTERNAL: "re-run with --verbose for the traceback and report it",
}


def one_line(error: BaseException) -> str:
    """What failed (the error's first line) and, where the error does not say, what to do."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    kind = kind_of(error)
    if kind is ErrorKind.INTERNAL:
        first = f"internal error {type(error).__name__}: {first}"
    hint = _HINTS.get(kind)
    if not getattr(error, "resumable", True):  # a re-run would meet the same error
        hint = None
    if hint and not isinstance(error, UsageError) and "re-run" not in first:
        first = f"{first}; {hint}"
    return first


def fail(message: str, code: ExitCode) -> typer.Exit:
    typer.secho(f"zoho-etl: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(int(code))


@contextmanager
def errors_as_exit_codes(*, verbose: bool = False, resume_command: str = "") -> Iterator[None]:
    """Turn every error into one stderr line and its exit code (``verbose``: the traceback too)."""
    try:
        yield
    except KeyboardInterrupt:
        again = f": {resume_command}" if resume_command else " the same command"
        raise fail(f"interrupted; re-run{again} to resume", ExitCode.INTERRUPTED) from None
    except typer.Exit:
        raise
    except Exception as exc:  # every error becomes one line and a documented exit code
        if verbose:
            traceback.print_exception(exc)
        message = one_line(exc)
        if kind_of(exc) is ErrorKind.INTERRUPTED:
            again = f"resume with: {resume_command}" if resume_command else "re-run to resume"
            message = f"interrupted (Ctrl-C): {message.split('; re-run')[0]}; {again}"
        raise fail(message, exit_code_for(exc)) from None
