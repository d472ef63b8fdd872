from __future__ import annotations

import pytest
from prefect.states import Completed, Failed

from connectors.errors import NotFoundError, RateLimitedError
from flows.tasks import only_retriable


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (RateLimitedError("429 from Zoho"), True),
        (NotFoundError("job gone"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_retriable_errors_are_retried(error: Exception, retry: bool) -> None:
    assert only_retriable(None, None, Failed(data=error)) is retry


def test_a_completed_state_is_not_retried() -> None:
    assert only_retriable(None, None, Completed(data=1)) is False
