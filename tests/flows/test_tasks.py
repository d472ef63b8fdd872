from __future__ import annotations

import pytest
from prefect.states import Completed, Failed

from connectors.errors import (
    ConnectionDroppedError,
    CorruptZipError,
    JobTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from engine.errors import BudgetExceededError
from flows.tasks import only_retriable
from transforms.errors import WarehouseError


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        # a bulk job that outlived the poll timeout: a task retry re-attaches to it
        (JobTimeoutError("job 1 still IN PROGRESS", job_id="1"), True),
        # transient but not HTTP: no request retried it (a warehouse outage during a load)
        (WarehouseError("leads", "merge", OSError("down")), True),
        # each request already retried these with backoff: no second layer on top
        (RateLimitedError("429 from Zoho"), False),
        (ServerError("503 from Zoho"), False),
        (ConnectionDroppedError("connection reset"), False),
        (CorruptZipError("bad CRC"), False),
        # fatal or not Zoho's: retrying cannot help
        (NotFoundError("job gone"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_whole_task_retriable_errors_are_retried(error: Exception, retry: bool) -> None:
    assert only_retriable(None, None, Failed(data=error)) is retry


def test_a_budget_stop_is_not_retried() -> None:
    error = BudgetExceededError(org="o", needed=50, available=0, budget=10, what="x")
    assert only_retriable(None, None, Failed(data=error)) is False


def test_a_completed_state_is_not_retried() -> None:
    assert only_retriable(None, None, Completed(data=1)) is False
