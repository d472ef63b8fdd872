"""Creator's numeric ``code`` answers mapped into the connectors' one error tree.

Creator answers ``{"code": N, "message": ...}`` and sometimes reports errors with HTTP 200
(4000: the daily allowance is spent; 3960: more than 200 records to process), so the code, not
the status, decides (``zoho-creator-api.md`` §7). Classes added here:

    CreditBudgetExceededError
    └── CreatorDailyLimitError     4000: today's Developer API calls are spent (wait for 00:00)
    RetriableError
    └── CreatorCursorExpiredError  a bulk read record_cursor is past its 15 minutes: resume from
                                   the last ID read (``last_id``) with a new job
    NotFoundError
    └── CreatorNoRecordsError      3100: nothing matches the criteria
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import (
    AuthError,
    CreditBudgetExceededError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableError,
    ServerError,
    TokenRejectedError,
    ZohoError,
)


class CreatorDailyLimitError(CreditBudgetExceededError):
    default_code = "4000"
    default_hint = (
        "the Creator account's Developer API calls for today are spent; the count resets at "
        "00:00 in the super admin's time zone"
    )

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(message, needed=1, available=0, **kw)


class CreatorCursorExpiredError(RetriableError):
    default_code = "CURSOR_EXPIRED"
    default_hint = (
        "a bulk read cursor lives 15 minutes; start a new job for the records after the last ID "
        "read (BulkReadQuery.resumed_after)"
    )

    def __init__(self, message: str, *, last_id: str | None, **kw: Any) -> None:
        self.last_id = last_id
        super().__init__(message, **kw)


class CreatorNoRecordsError(NotFoundError):
    default_code = "3100"
    default_hint = "no record matches the criteria"


_SCOPE_HINT = (
    "the token lacks a Creator scope this call needs (e.g. ZohoCreator.bulk.CREATE, "
    "ZohoCreator.report.DELETE); generate a refresh token with those scopes"
)

#: code -> (class, hint or None for the class default)
CODE_CLASSES: Mapping[int, tuple[type[ZohoError], str | None]] = {
    2955: (RateLimitedError, None),
    4000: (CreatorDailyLimitError, None),
    1030: (TokenRejectedError, None),
    2945: (TokenRejectedError, _SCOPE_HINT),
    1130: (PermissionDeniedError, "the user's API access permission is off in Creator"),
    2933: (PermissionDeniedError, "the application is not shared with this user"),
    1060: (PermissionDeniedError, "the application is disabled"),
    1080: (PermissionDeniedError, None),
    2896: (PermissionDeniedError, None),
    2897: (PermissionDeniedError, None),
    2898: (PermissionDeniedError, None),
    2899: (PermissionDeniedError, None),
    1040: (NotFoundError, "check the account owner name (workspace)"),
    2892: (NotFoundError, "check the application link name"),
    2893: (NotFoundError, "check the form link name"),
    2894: (NotFoundError, "check the report link name"),
    3100: (CreatorNoRecordsError, None),
    3190: (NotFoundError, "no record has this ID"),
}


def creator_error(status: int, payload: Any, *, method: str, path: str) -> ZohoError | None:
    """The error a Creator answer stands for, or None when its ``code`` is 3000."""
    body: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    raw = body.get("code")
    try:
        code = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        code = None
    if code == 3000 and status < 400:
        return None
    message = str(body.get("message") or body.get("description") or "no message")
    kw: dict[str, Any] = {
        "code": str(code) if code is not None else f"HTTP_{status}",
        "http_status": status,
        "method": method,
        "path": path,
    }
    if code is not None and code in CODE_CLASSES:
        cls, hint = CODE_CLASSES[code]
        if hint is not None:
            kw["hint"] = hint
        return cls(message, **kw)
    if status == 429:
        return RateLimitedError(message, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    if status == 401:
        return AuthError(message, **kw)
    if status == 403:
        return PermissionDeniedError(message, **kw)
    return InvalidRequestError(message, **kw)
