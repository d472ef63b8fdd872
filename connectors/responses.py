"""Mapping Zoho answers to errors, in one place.

Zoho reports errors in several envelopes (``shared/docs/zoho-bulk-api.md`` §1.8, §2.1, §4):

- flat ``{"status": "error", "code": ..., "message": ..., "details": {...}}``;
- the same inside ``{"data": [ ... ]}`` (bulk read create);
- the files service's ``{"ERROR_CODE": 401, "ERROR_MESSAGE": ..., "x-error": ...}``;
- the accounts server's ``{"error": "invalid_code"}`` (often with HTTP 200).

``error_for`` turns a status code plus any of these into the right class of the error tree.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from connectors.errors import (
    AuthError,
    ConnectFailedError,
    ConnectionDroppedError,
    InvalidRequestError,
    ModuleNotSupportedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TokenRejectedError,
    UnexpectedResponseError,
    ZohoError,
)

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: 401 codes that mean "this access token is no good": refresh it and replay once.
TOKEN_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE", "INVALID_OAUTHTOKEN"})
MODULE_CODES = frozenset(
    {"MODULE_NOT_SUPPORTED", "MODULE_NOT_AVAILABLE", "INVALID_MODULE", "NOT_SUPPORTED_MODULE"}
)
RATE_CODES = frozenset({"TOO_MANY_REQUESTS"})


@dataclass(frozen=True)
class ZohoErrorBody:
    """Zoho's error fields, whatever envelope they came in."""

    code: str
    message: str
    details: Mapping[str, Any]


def parse_error_body(payload: Any) -> ZohoErrorBody | None:
    """Extract ``code``/``message``/``details`` from any known error envelope, else None."""
    if isinstance(payload, Mapping):
        data = payload.get("data")
        if isinstance(data, list) and data and isinstance(data[0], Mapping):
            inner = parse_error_body(data[0])
            if inner is not None:
                return inner
        if payload.get("status") == "error" or (
            "code" in payload and "message" in payload and payload.get("status") != "success"
        ):
            details = payload.get("details")
            return ZohoErrorBody(
                code=str(payload.get("code") or "UNKNOWN"),
                message=str(payload.get("message") or ""),
                details=details if isinstance(details, Mapping) else {},
            )
        if "ERROR_CODE" in payload or "ERROR_MESSAGE" in payload:
            extra = {k: payload[k] for k in ("x-error", "info", "x-info") if k in payload}
            return ZohoErrorBody(
                code=str(payload.get("ERROR_CODE") or "UNKNOWN"),
                message=str(payload.get("ERROR_MESSAGE") or ""),
                details=extra,
            )
        if isinstance(payload.get("error"), str):
            return ZohoErrorBody(code=payload["error"], message=payload["error"], details={})
    return None


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date. None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def error_for(
    status: int,
    body: ZohoErrorBody | None,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> ZohoError:
    """The error to raise for an HTTP ``status`` (or an error body on a 2xx)."""
    code = body.code if body else f"HTTP_{status}"
    message = body.message if body else "no error body"
    details = body.details if body else {}
    kw: dict[str, Any] = {
        "code": code,
        "details": details,
        "http_status": status,
        "method": method,
        "path": path,
    }
    if status == 429 or code in RATE_CODES:
        return RateLimitedError(message, retry_after=retry_after, **kw)
    if status in RETRIABLE_STATUSES:
        return ServerError(message, **kw)
    if code in MODULE_CODES:
        return ModuleNotSupportedError(message, **kw)
    if status == 401 and code == "OAUTH_SCOPE_MISMATCH":
        return TokenRejectedError(
            message,
            hint="the token lacks a scope this call needs (e.g. ZohoCRM.bulk.read and module "
            "read); generate a refresh token with those scopes",
            **kw,
        )
    if status == 401:
        return (TokenRejectedError if code in TOKEN_CODES else AuthError)(message, **kw)
    if status == 403 or code in {"NO_PERMISSION", "AUTHORIZATION_FAILED"}:
        return PermissionDeniedError(message, **kw)
    if code == "RESOURCE_NOT_FOUND":
        return NotFoundError(message, **kw)
    if 400 <= status < 500 or body is not None:
        return InvalidRequestError(message, **kw)
    if 300 <= status < 400:  # redirects are not followed (connectors.http: hosts)
        return UnexpectedResponseError(f"a redirect ({message})", **kw)
    return ServerError(message, **kw)


def never_sent(exc: requests.RequestException) -> bool:
    """True when the connection could not even be opened (refused, unresolvable, connect
    timeout): the request never left, so repeating it cannot duplicate anything."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    cause = exc.args[0]
    reason = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def explicit_error(payload: Any) -> ZohoErrorBody | None:
    """An error carried by a 2xx answer: ``"status": "error"`` at the top or in ``data[0]``.

    Only explicit error markers count, so a record that happens to have ``code`` and
    ``message`` fields is never mistaken for an error.
    """
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    in_data = (
        isinstance(data, list)
        and len(data) == 1
        and isinstance(data[0], dict)
        and data[0].get("status") == "error"
    )
    if payload.get("status") == "error" or in_data:
        return parse_error_body(payload)
    return None


def stream_json(response: requests.Response) -> Any:
    """Decode a (small) JSON error body of a streamed response; None if it is not JSON."""
    if not looks_like_json(response):
        return None
    try:
        return response.json()
    except (ValueError, requests.RequestException):
        return None


def looks_like_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def transport_error(
    exc: requests.RequestException, method: str, path: str
) -> ConnectionDroppedError:
    """The error for a request that got no HTTP answer: ``ConnectFailedError`` when it never
    left (safe to send again), else ``ConnectionDroppedError`` (Zoho may have acted on it)."""
    if never_sent(exc):
        return ConnectFailedError(
            f"could not connect ({type(exc).__name__})", method=method, path=path
        )
    if isinstance(exc, requests.Timeout):
        return ConnectionDroppedError(
            f"timed out ({type(exc).__name__})", code="TIMEOUT", method=method, path=path
        )
    return ConnectionDroppedError(
        f"connection failed ({type(exc).__name__})", method=method, path=path
    )
