"""Errors of the simulator, each one a Zoho error response.

The simulator's errors are not failures of the simulator: they are the answers Zoho gives, so
every class carries the HTTP status, the Zoho ``code``, the ``message`` and ``details`` it is
rendered with (the flat envelope ``{"status": "error", "code", "message", "details"}``).
They are grouped the way a client must react to them::

    ZohoApiError                      any error answer (HTTP status + Zoho envelope)
    ├── RetriableApiError             try again later: 429 TOO_MANY_REQUESTS, 5xx
    ├── AuthApiError                  401 INVALID_TOKEN: refresh the access token
    └── FatalApiError                 400/403/404/415: the request itself is wrong
        └── InvalidQueryError         400: a bulk read query (fields, criteria, page) is invalid

``OAuthError`` is separate: Zoho's accounts server answers token errors with HTTP 200 and
``{"error": "invalid_code"}``, not with the envelope above (``auth.TokenRateLimited``, too many
tokens in 10 minutes, is HTTP 400 ``{"error": "Access Denied", ...}``).
"""

from __future__ import annotations

from typing import Any


class ZohoApiError(Exception):
    """An error answer of the simulated Zoho API."""

    def __init__(
        self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def body(self) -> dict[str, Any]:
        return {
            "status": "error",
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }


class RetriableApiError(ZohoApiError):
    """Rate limits and server errors: the same request may succeed later."""


class AuthApiError(ZohoApiError):
    """The access token is unknown, expired, revoked or from another data centre."""


class FatalApiError(ZohoApiError):
    """The request is wrong (bad module, unknown job, unsupported method): do not retry."""


class InvalidQueryError(FatalApiError):
    """A bulk read query is invalid; ``details`` names the field, comparator or limit."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(400, code, message, details)


class OAuthError(Exception):
    """A token endpoint error, answered as HTTP 200 ``{"error": code}`` like Zoho Accounts."""

    status_code = 200

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    def body(self) -> dict[str, str]:
        return {"error": self.error}


def too_many_requests(reason: str) -> RetriableApiError:
    """429 TOO_MANY_REQUESTS; ``reason`` is only for logs, Zoho's message is generic."""
    del reason
    return RetriableApiError(
        429, "TOO_MANY_REQUESTS", "too many requests. please try again after some time"
    )


def invalid_token() -> AuthApiError:
    return AuthApiError(401, "INVALID_TOKEN", "invalid oauth token")


def resource_not_found(resource: str) -> FatalApiError:
    return FatalApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "The requested resource doesn't exist.",
        {"resource": resource},
    )


def invalid_url_pattern() -> FatalApiError:
    return FatalApiError(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def internal_error(status_code: int = 500) -> RetriableApiError:
    return RetriableApiError(status_code, "INTERNAL_ERROR", "Internal Server Error")


def refused_request(
    code: str, message: str, details: dict[str, Any] | None = None
) -> FatalApiError:
    """Zoho's 400 answer to a request it refuses (``code`` as Zoho spells it)."""
    return FatalApiError(400, code, message, details or {})
