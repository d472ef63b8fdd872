from __future__ import annotations

import pickle

import pytest

from connectors.creator_errors import (
    CreatorCursorExpiredError,
    CreatorDailyLimitError,
    CreatorNoRecordsError,
    creator_error,
)
from connectors.errors import (
    AuthError,
    CreditBudgetExceededError,
    FatalError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableError,
    ServerError,
    TokenRejectedError,
    ZohoError,
)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, 2955, RateLimitedError),
        (200, 4000, CreatorDailyLimitError),
        (401, 1030, TokenRejectedError),
        (401, 2945, TokenRejectedError),
        (401, 1000, AuthError),
        (403, 2933, PermissionDeniedError),
        (403, 2898, PermissionDeniedError),
        (404, 1040, NotFoundError),
        (404, 2894, NotFoundError),
        (404, 3100, CreatorNoRecordsError),
        (400, 3020, InvalidRequestError),
        (200, 3960, InvalidRequestError),
        (400, 2930, InvalidRequestError),
        (503, 9999, ServerError),
        (429, None, RateLimitedError),
    ],
)
def test_numeric_codes_map_into_the_recovery_classes(
    status: int, code: int | None, expected: type[ZohoError]
) -> None:
    payload = {"message": "m"} if code is None else {"code": code, "message": "m"}
    error = creator_error(status, payload, method="GET", path="/creator/v2.1/x?criteria=secret")
    assert type(error) is expected
    assert error is not None
    assert error.http_status == status
    assert error.path == "/creator/v2.1/x"  # no query string reaches a message


def test_success_is_no_error_and_the_daily_cap_is_fatal_budget() -> None:
    assert creator_error(200, {"code": 3000, "data": []}, method="GET", path="/p") is None
    assert creator_error(200, {"code": "3000"}, method="GET", path="/p") is None
    cap = creator_error(200, {"code": 4000, "message": "limit"}, method="GET", path="/p")
    assert isinstance(cap, CreditBudgetExceededError)
    assert isinstance(cap, FatalError)
    assert "00:00" in str(cap)
    odd = creator_error(200, "not json", method="GET", path="/p")
    assert isinstance(odd, InvalidRequestError)


def test_errors_pickle_with_their_attributes() -> None:
    expired = CreatorCursorExpiredError("gone", last_id="42", path="/p")
    assert isinstance(expired, RetriableError)
    clone = pickle.loads(pickle.dumps(expired))  # noqa: S301 (our own object)
    assert (type(clone), clone.last_id, str(clone)) == (type(expired), "42", str(expired))
    cap = pickle.loads(pickle.dumps(CreatorDailyLimitError("cap")))  # noqa: S301
    assert (cap.needed, cap.available) == (1, 0)
