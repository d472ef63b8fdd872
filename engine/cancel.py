"""Stopping a run early and cleanly (Ctrl-C in the CLI), without killing a page half-way.

``request_cancel()`` sets one process-wide flag. The engine looks at it where stopping is
safe: every wait (``cancellable_sleep``: the poll pauses and the expected-job-time pause wake
at once) and after each page is committed (``engine.progress.page_done``). There it raises
``RunCancelledError``; the ledger then holds every loaded page and the job of the page that was
waiting, so running the same command again resumes without a new job for loaded pages.
"""

from __future__ import annotations

import threading

from recovery.errors import TerminalError

_cancelled = threading.Event()


class RunCancelledError(TerminalError):
    """The run was asked to stop (Ctrl-C); what is loaded stays loaded, re-run to resume."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        at = f" at {where}" if where else ""
        super().__init__(f"cancelled{at}; re-run the same command to resume")


def request_cancel() -> None:
    _cancelled.set()


def clear_cancel() -> None:
    _cancelled.clear()


def cancel_requested() -> bool:
    return _cancelled.is_set()


def check_cancelled(where: str = "") -> None:
    if _cancelled.is_set():
        raise RunCancelledError(where)


def cancellable_sleep(seconds: float) -> None:
    """``time.sleep`` that ends at once, with ``RunCancelledError``, when a cancel comes."""
    if _cancelled.wait(max(seconds, 0.0)):
        raise RunCancelledError("a wait")
