"""One recovery vocabulary for every package: how a caller recovers from an error.

Retry code asks ``is_transient(error)`` (or ``isinstance(error, TransientError)``); it never
matches message text. Each package keeps its own tree (``connectors.errors``,
``transforms.errors``, ``transforms.writeback.errors``, ``engine.errors``) whose branches
derive from these markers (dlt's ``TransientException`` / ``TerminalException`` are the model)::

    PicklableByState         pickles as message + attributes (errors cross processes)
    └── EtlError             root of every error this project raises
        ├── TransientError   the same call may succeed later: retry it after a backoff
        ├── TerminalError    retrying cannot help: input, configuration or budget must change
        └── SkippableError   one module, record or chunk failed; the rest of the run goes on
"""

from __future__ import annotations

from typing import Any


class PicklableByState(Exception):
    """An exception that pickles as its message and attributes, not by replaying ``__init__``.

    Our errors take their own (often keyword-only) constructor arguments, which default
    exception pickling cannot replay, and errors cross process boundaries (Dask workers,
    Prefect results). The error roots of ``transforms`` and ``flows`` derive from this too.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(
    cls: type[PicklableByState], args: tuple[Any, ...], state: dict[str, Any]
) -> PicklableByState:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class EtlError(PicklableByState):
    """Root of every error raised by this project's packages."""


class TransientError(EtlError):
    """Marker: the same call may succeed after a backoff; nothing is wrong with the input."""


class TerminalError(EtlError):
    """Marker: the same call fails again; a person has to change something first."""


class SkippableError(EtlError):
    """Marker: only this module, record or chunk is affected; the run may go on."""


def is_transient(error: BaseException) -> bool:
    """Whether retrying the call that raised ``error`` can succeed (the one retry rule)."""
    return isinstance(error, TransientError)


def recovery_class(error: BaseException) -> str:
    """``transient``, ``terminal``, ``skippable`` or ``unknown`` (for logs and artifacts)."""
    if isinstance(error, TransientError):
        return "transient"
    if isinstance(error, SkippableError):
        return "skippable"
    if isinstance(error, TerminalError):
        return "terminal"
    return "unknown"
