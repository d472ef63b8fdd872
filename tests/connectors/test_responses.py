from __future__ import annotations

import email.utils

import pytest

from connectors import errors
from connectors.responses import error_for, parse_error_body, retry_after_seconds


def test_parses_every_error_envelope() -> None:
    flat = {"status": "error", "code": "INVALID_DATA", "message": "bad", "details": {"a": 1}}
    assert parse_error_body(flat) == parse_error_body({"data": [flat]})
    body = parse_error_body(flat)
    assert body is not None
    assert (body.code, body.message, dict(body.details)) == ("INVALID_DATA", "bad", {"a": 1})
    files = parse_error_body({"ERROR_CODE": 401, "ERROR_MESSAGE": "Unauthorized", "x-error": "h"})
    assert files is not None
    assert (files.code, files.message, dict(files.details)) == (
        "401",
        "Unauthorized",
        {"x-error": "h"},
    )
    accounts = parse_error_body({"error": "invalid_code"})
    assert accounts is not None
    assert accounts.code == "invalid_code"
    assert parse_error_body({"data": [{"status": "success", "code": "ADDED"}]}) is None
    assert parse_error_body(None) is None
    assert parse_error_body([1, 2]) is None


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (429, "TOO_MANY_REQUESTS", errors.RateLimitedError),
        (400, "TOO_MANY_REQUESTS", errors.RateLimitedError),
        (500, "INTERNAL_ERROR", errors.ServerError),
        (502, None, errors.ServerError),
        (503, None, errors.ServerError),
        (504, None, errors.ServerError),
        (401, "INVALID_TOKEN", errors.TokenRejectedError),
        (401, "OAUTH_SCOPE_MISMATCH", errors.TokenRejectedError),
        (401, "SOMETHING", errors.AuthError),
        (403, "NO_PERMISSION", errors.PermissionDeniedError),
        (400, "AUTHORIZATION_FAILED", errors.PermissionDeniedError),
        (404, "RESOURCE_NOT_FOUND", errors.NotFoundError),
        (404, "INVALID_URL_PATTERN", errors.InvalidRequestError),
        (400, "MODULE_NOT_SUPPORTED", errors.ModuleNotSupportedError),
        (400, "INVALID_MODULE", errors.ModuleNotSupportedError),
        (400, "INVALID_CRITERIA", errors.InvalidRequestError),
        (415, "MEDIA_TYPE_NOT_SUPPORTED", errors.InvalidRequestError),
        (501, None, errors.ServerError),
    ],
)
def test_status_and_code_map_to_the_right_class(
    status: int, code: str | None, cls: type[errors.ZohoError]
) -> None:
    body = parse_error_body({"status": "error", "code": code, "message": "m"}) if code else None
    exc = error_for(status, body, method="POST", path="/crm/bulk/v8/read")
    assert type(exc) is cls
    assert exc.http_status == status
    assert (exc.method, exc.path) == ("POST", "/crm/bulk/v8/read")


def test_hopeless_4xx_are_never_retriable() -> None:
    for status in (400, 401, 403, 404, 405, 413, 415, 422):
        assert not isinstance(
            error_for(status, None, method="GET", path="/"), errors.RetriableError
        )


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(when, now=1_000_000) == pytest.approx(30, abs=1)
