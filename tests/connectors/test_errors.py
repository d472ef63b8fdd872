from __future__ import annotations

import pickle

import pytest

from connectors import errors
from connectors.errors import (
    BulkJobFailedError,
    CorruptZipError,
    FatalError,
    ModuleNotSupportedError,
    RateLimitedError,
    RetriableError,
    SkippableError,
    ZohoError,
    strip_query,
)


def test_message_is_built_from_attributes() -> None:
    exc = RateLimitedError(
        "too many requests",
        retry_after=3,
        http_status=429,
        method="GET",
        path="/crm/bulk/v8/read/1?secret=x",
        details={"max": 1},
    )
    assert exc.code == "TOO_MANY_REQUESTS"
    assert exc.path == "/crm/bulk/v8/read/1"
    assert exc.retry_after == 3
    text = str(exc)
    assert text.startswith("GET /crm/bulk/v8/read/1: HTTP 429 TOO_MANY_REQUESTS: too many")
    assert "secret" not in text
    assert "{'max': 1}" in text
    assert exc.hint in text


def test_full_url_paths_lose_host_and_query() -> None:
    assert strip_query("https://www.zohoapis.com/crm/v8/Leads?fields=a#x") == "/crm/v8/Leads"
    assert strip_query("/a/b?c") == "/a/b"


@pytest.mark.parametrize(
    ("cls", "marker"),
    [
        (RateLimitedError, RetriableError),
        (errors.ServerError, RetriableError),
        (errors.ConnectionDroppedError, RetriableError),
        (CorruptZipError, RetriableError),
        (errors.AuthError, FatalError),
        (errors.TokenRejectedError, FatalError),
        (errors.PermissionDeniedError, FatalError),
        (errors.NotFoundError, FatalError),
        (errors.ZipRejectedError, FatalError),
        (errors.QueryValidationError, FatalError),
        (errors.UnexpectedResponseError, FatalError),
        (ModuleNotSupportedError, SkippableError),
    ],
)
def test_every_error_has_exactly_one_recovery_marker(
    cls: type[ZohoError], marker: type[ZohoError]
) -> None:
    markers = [m for m in (RetriableError, FatalError, SkippableError) if issubclass(cls, m)]
    assert markers == [marker]


def test_job_errors_carry_the_job_id() -> None:
    exc = BulkJobFailedError("job 7 failed: boom", job_id="7", code="INTERNAL_SERVER_ERROR")
    assert exc.job_id == "7"
    assert "INTERNAL_SERVER_ERROR: job 7 failed: boom" in str(exc)


def test_budget_error_says_needed_and_available() -> None:
    exc = errors.CreditBudgetExceededError("over", needed=50, available=10)
    assert (exc.needed, exc.available) == (50, 10)
    assert "budget" in str(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RateLimitedError("slow down", retry_after=2.5, http_status=429, method="GET", path="/x"),
        errors.JobTimeoutError("still running", job_id="42", path="/crm/bulk/v8/read/42"),
        errors.CreditBudgetExceededError("over", needed=50, available=3),
        BulkJobFailedError("failed", job_id="7", code="INTERNAL_SERVER_ERROR", details={"a": 1}),
        errors.ZipRejectedError("two members", code="ZIP_MEMBER_COUNT", path="1.zip"),
        ModuleNotSupportedError("no", http_status=400, method="POST", path="/crm/bulk/v8/read"),
    ],
)
def test_errors_survive_pickling(exc: ZohoError) -> None:
    """Errors cross process boundaries (Dask workers, Prefect results)."""
    again = pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own bytes)
    assert type(again) is type(exc)
    assert str(again) == str(exc)
    assert again.__dict__ == exc.__dict__


def _error_examples() -> list[Exception]:
    # One error with its own constructor from every package's tree: all derive from
    # PicklableByState, so they survive a trip through a Dask worker or a Prefect result.
    from engine.errors import BudgetExceededError, RunFailedError
    from transforms.errors import SchemaDriftError
    from transforms.writeback.errors import MappingError, PreflightError

    return [
        BudgetExceededError("us-enterprise", needed=150, available=20, budget=1000, what="Leads"),
        RunFailedError("export crm", {"Leads": "HTTP 500"}),
        SchemaDriftError("crm_Leads", "Annual_Revenue", "decimal128(16, 2)", "string"),
        MappingError("unknown key 'fieldz'", source="leads.yaml", line=7),
        PreflightError("Leads", ["INVALID_FIELD Phonee: no such field in Leads"]),
    ]


@pytest.mark.parametrize("error", _error_examples(), ids=lambda e: type(e).__name__)
def test_every_packages_errors_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made

    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__
