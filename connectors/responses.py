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

from connectors.errors import (
    AuthError,
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
