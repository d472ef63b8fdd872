from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prefect.logging.handlers import APILogHandler

from flows.run_logging import LIBRARY_LOGGERS, RunLogHandler, forward_library_logs


@pytest.fixture
def bare_loggers() -> Iterator[None]:
    """The library loggers as a fresh process has them: no level, no handler."""
    saved = {}
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, list(logger.handlers))
        logger.setLevel(logging.NOTSET)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, APILogHandler)]
    yield
    for name, (level, handlers) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).handlers = handlers


@pytest.mark.usefixtures("bare_loggers")
def test_library_info_lines_get_an_api_handler_once() -> None:
    forward_library_logs()
    forward_library_logs()
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        assert logger.getEffectiveLevel() == logging.INFO
        assert [type(h) for h in logger.handlers if isinstance(h, APILogHandler)] == [RunLogHandler]
    assert logging.getLogger("connectors.bulk_read").isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("bare_loggers")
def test_a_level_the_user_chose_is_kept() -> None:
    logging.getLogger("transforms").setLevel(logging.DEBUG)
    forward_library_logs()
    assert logging.getLogger("transforms").level == logging.DEBUG


def test_records_outside_a_run_are_dropped_without_a_warning() -> None:
    record = logging.LogRecord("connectors.x", logging.INFO, __file__, 1, "hello", None, None)
    RunLogHandler().emit(record)  # pytest turns warnings into errors
