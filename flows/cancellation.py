"""A run stopped with Ctrl-C ends Cancelled in Prefect, not Failed.

The CLI's first Ctrl-C sets ``engine.cancel``'s flag; the engine stops at the next wait or
committed page with ``RunCancelledError``, each module's (window's) task fails with it and the
flow gathers the failures into a ``RunFailedError``. A flow that ends with
``return cancelled_or_raise(error)`` returns Prefect's ``Cancelled`` state instead of raising:
Prefect takes a returned state as the run's final one, so the flow run ends CANCELLED in the
Prefect API, and the flow's caller still gets the error, which is the state's data (the CLI
then prints the summary and exits 130). Any other failure is raised unchanged.
"""

from __future__ import annotations

from typing import Any

from prefect.states import Cancelled

from engine.cancel import RunCancelledError, cancel_requested
from engine.errors import RunFailedError


def stopped_by_user(error: BaseException) -> bool:
    """Whether ``error`` ended a run the user asked to stop (Ctrl-C)."""
    if isinstance(error, RunCancelledError) or cancel_requested():
        return True
    if isinstance(error, RunFailedError):
        name = RunCancelledError.__name__
        return any(reason.startswith(f"{name}:") for reason in error.failures.values())
    return False


def cancelled_or_raise(error: Exception) -> Any:
    """A flow's ``return cancelled_or_raise(error)``: Prefect's ``Cancelled`` state when the
    user stopped the run (see the module docstring), else ``error`` raised."""
    if not stopped_by_user(error):
        raise error
    text = str(error).strip().splitlines()
    message = f"stopped with Ctrl-C: {text[0] if text else type(error).__name__}"
    return Cancelled(message=message[:500], data=error)
