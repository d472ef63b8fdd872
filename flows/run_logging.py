"""The library's log lines in the flow-run log of the Prefect UI, with no set-up by the user.

``connectors``, ``transforms`` and ``flows`` log with the standard ``logging`` module (they
must not import Prefect). Prefect sends a logger's records to its API only when that logger
has an ``APILogHandler``; ``PREFECT_LOGGING_EXTRA_LOGGERS`` adds one, but leaves the logger's
level unset, so its INFO lines (job created, downloaded, page loaded) still die at the root
logger's WARNING. `forward_library_logs`, called at the start of every flow, gives each
library logger Prefect's level (``PREFECT_LOGGING_LEVEL``, INFO by default) and an API
handler, whether the run is a deployment's, ``zoho-etl``'s or a test's.
"""

from __future__ import annotations

import logging

from prefect.logging.handlers import APILogHandler

#: The top-level loggers of the library; every module logs under one of them.
LIBRARY_LOGGERS = ("connectors", "transforms", "engine", "flows")


class RunLogHandler(APILogHandler):
    """Prefect's API handler that drops records logged outside any flow or task run.

    Library code also runs outside runs (a plain function in a test, a background thread of
    the callback server); Prefect's own handler would warn about each such record.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "flow_run_id", None) is None and not _in_run():
            return
        super().emit(record)


def _in_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def prefect_log_level() -> int:
    """``PREFECT_LOGGING_LEVEL`` as a number (INFO unless the user chose otherwise)."""
    from prefect.settings import PREFECT_LOGGING_LEVEL

    level = logging.getLevelName(str(PREFECT_LOGGING_LEVEL.value()).upper())
    return level if isinstance(level, int) else logging.INFO


def forward_library_logs() -> None:
    """Give every library logger Prefect's log level and an API handler (idempotent).

    A level the user set on a logger is kept; a logger that already has an API handler
    (from ``PREFECT_LOGGING_EXTRA_LOGGERS``) gets no second one.
    """
    level = prefect_log_level()
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            logger.addHandler(RunLogHandler())
