"""Errors raised by the Zoho connectors, grouped by how a caller recovers from them.

Each branch derives from a marker of ``recovery`` (``RetriableError`` is a ``TransientError``,
``FatalError`` a ``TerminalError``, ``SkippableError`` a ``recovery.SkippableError``); retry
code asks ``recovery.is_transient(exc)``, never message text.

    ZohoError                        root (an ``EtlError``): code, message, details, http_status,
    │                                method, path, hint
    ├── RetriableError               try again after a backoff; nothing is wrong with the input
    │   ├── RateLimitedError         HTTP 429 / TOO_MANY_REQUESTS (carries ``retry_after``)
    │   ├── ServerError              HTTP 500 / 502 / 503 / 504
    │   ├── ConnectionDroppedError   connection reset, timeouts, truncated downloads
    │   │   └── ConnectFailedError   the connection could not be opened: nothing was sent
    │   ├── CorruptZipError          a downloaded zip fails its CRC or is not a zip: download again
    │   └── JobTimeoutError          a bulk job did not finish in time: re-attach to it by id later
    ├── FatalError                   retrying cannot help: fix configuration or input first
    │   ├── AuthError                token endpoint said no (bad client id/secret/refresh token/DC)
    │   │   └── TokenRejectedError   API keeps rejecting a freshly refreshed token / scope mismatch
    │   ├── PermissionDeniedError    HTTP 403 NO_PERMISSION, AUTHORIZATION_FAILED
    │   ├── InvalidRequestError      any other 4xx that cannot succeed as sent
    │   │   └── NotFoundError        HTTP 404 RESOURCE_NOT_FOUND (unknown or expired job)
    │   ├── CreditBudgetExceededError  a call would exceed the configured credit budget (not sent)
    │   ├── BulkJobFailedError       a bulk job ended in FAILURE; Zoho's error message is kept
    │   ├── ZipRejectedError         unsafe or unexpected zip: path traversal, several members,
    │   │                            uncompressed size over the cap (nothing is extracted)
    │   ├── QueryValidationError     client-side query checks: >25 criteria, >200 fields, a
    │   │                            comparator invalid for the field's type, unknown field,
    │   │                            a field name that is not a Zoho API name
    │   ├── ForeignHostError         a URL names a host that is not Zoho's (nothing sent there)
    │   ├── OutcomeUnknownError      a create call's answer was lost after it was sent: Zoho may
    │   │                            have acted, so it is not sent again blindly
    │   └── UnexpectedResponseError  Zoho answered with a shape this client does not understand
    └── SkippableError               this module/record cannot be processed; the run may go on
        └── ModuleNotSupportedError  MODULE_NOT_SUPPORTED / MODULE_NOT_AVAILABLE / INVALID_MODULE

Every error builds its text from its attributes. Secrets (client secret, refresh token, access
token) are never passed to an error, and ``path`` never carries a query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from recovery import errors as recovery
from recovery.errors import EtlError, TerminalError, TransientError


class ZohoError(EtlError):
    """Root of every connector error.

    ``code``/``message``/``details`` are Zoho's (or a client-side code such as
    ``CLIENT_VALIDATION``); ``http_status``, ``method`` and ``path`` describe the request;
    ``hint`` says what the user can do about it.
    """

    default_code = "ZOHO_ERROR"
    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        http_status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.http_status = http_status
        self.method = method
        self.path = strip_query(path) if path else None
        self.hint = hint if hint is not None else self.default_hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.method and self.path:
            where = f"{self.method} {self.path}: "
        elif self.path:
            where = f"{self.path}: "
        status = f"HTTP {self.http_status} " if self.http_status is not None else ""
        text = f"{where}{status}{self.code}: {self.message}"
        if self.details:
            text += f" (details: {self.details})"
        if self.hint:
            text += f". {self.hint[:1].upper()}{self.hint[1:]}"
        return text


class RetriableError(ZohoError, TransientError):
    """Transient: the same call may succeed after a backoff."""


class FatalError(ZohoError, TerminalError):
    """Permanent: configuration or input must change before trying again."""


class SkippableError(ZohoError, recovery.SkippableError):
    """Only this module or record is affected; the rest of the run can continue."""


class RateLimitedError(RetriableError):
    default_code = "TOO_MANY_REQUESTS"
    default_hint = "Zoho is throttling this org; the client backs off and retries"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(RetriableError):
    default_code = "INTERNAL_ERROR"
    default_hint = "Zoho had a server-side problem; the call is retried with backoff"


class ConnectionDroppedError(RetriableError):
    default_code = "CONNECTION_DROPPED"
    default_hint = "the connection failed or was cut; the call is retried with backoff"


class ConnectFailedError(ConnectionDroppedError):
    """The connection was refused or timed out while opening: the request never left."""

    default_code = "CONNECT_FAILED"
    default_hint = "Zoho could not be reached; nothing was sent, so the call is retried"


class CorruptZipError(RetriableError):
    default_code = "CORRUPT_ZIP"
    default_hint = "the download was damaged; download the job result again"


class JobTimeoutError(RetriableError):
    default_code = "JOB_TIMEOUT"
    default_hint = "the job may still finish: re-attach to it by id, or raise the poll timeout"

    def __init__(self, message: str, *, job_id: str, **kw: Any) -> None:
        self.job_id = job_id
        super().__init__(message, **kw)


class AuthError(FatalError):
    default_code = "AUTH_FAILED"
    default_hint = (
        "check the client id, client secret and refresh token, and that the data centre "
        "(accounts server) matches the one the refresh token was issued in"
    )


class TokenRejectedError(AuthError):
    default_code = "INVALID_TOKEN"
    default_hint = (
        "Zoho rejected a freshly refreshed access token: check the token's scopes "
        "(e.g. ZohoCRM.bulk.read + module read) and the data centre"
    )


class PermissionDeniedError(FatalError):
    default_code = "NO_PERMISSION"
    default_hint = "the Zoho user behind the refresh token lacks permission for this module"


class InvalidRequestError(FatalError):
    default_code = "INVALID_REQUEST"
    default_hint = "the request cannot succeed as sent; check the module, fields and criteria"


class NotFoundError(InvalidRequestError):
    default_code = "RESOURCE_NOT_FOUND"
    default_hint = (
        "the job or record does not exist (bulk read results are kept one day); create a new job"
    )


class CreditBudgetExceededError(FatalError):
    default_code = "CREDIT_BUDGET_EXCEEDED"
    default_hint = "raise the daily credit budget or wait for credits to come back (rolling 24 h)"

    def __init__(self, message: str, *, needed: int, available: int, **kw: Any) -> None:
        self.needed = needed
        self.available = available
        super().__init__(message, **kw)


class BulkJobFailedError(FatalError):
    default_code = "BULK_JOB_FAILED"
    default_hint = "Zoho marked the job FAILURE; check the query, then create a new job"

    def __init__(self, message: str, *, job_id: str, **kw: Any) -> None:
        self.job_id = job_id
        super().__init__(message, **kw)


class ZipRejectedError(FatalError):
    default_code = "ZIP_REJECTED"
    default_hint = "the file was not extracted; inspect it by hand before trusting its contents"


class QueryValidationError(FatalError):
    default_code = "CLIENT_VALIDATION"
    default_hint = "fix the query; it was not sent to Zoho"


class ForeignHostError(FatalError):
    """A URL (e.g. a job's ``download_url``) names a host outside the org's data centre.

    Raised by the HTTP core before anything is sent: the access token only ever goes to the
    hosts of the org's data centre, the configured simulator or explicit endpoint overrides.
    """

    default_code = "FOREIGN_HOST"
    default_hint = (
        "nothing was sent to that host; if it really is a Zoho host of this org, add it as an "
        "endpoint override"
    )

    def __init__(self, message: str, *, host: str, **kw: Any) -> None:
        self.host = host
        super().__init__(message, **kw)


class OutcomeUnknownError(FatalError):
    """A non-idempotent call (job create, upload) was sent, then its answer was lost.

    The connection dropped or timed out after the request went out, so Zoho may or may not
    have acted. ``attempts`` counts the sends whose outcome is unknown (each may have spent
    credits). Callers that can find out what happened recover; the rest stop here.
    """

    default_code = "OUTCOME_UNKNOWN"
    default_hint = (
        "Zoho may have acted on the request; check in Zoho before running the same step again"
    )

    def __init__(self, message: str, *, attempts: int = 1, **kw: Any) -> None:
        self.attempts = attempts
        super().__init__(message, **kw)


class UnexpectedResponseError(FatalError):
    default_code = "UNEXPECTED_RESPONSE"
    default_hint = "Zoho answered in a shape this client does not know; report it with the path"


class ModuleNotSupportedError(SkippableError):
    default_code = "MODULE_NOT_SUPPORTED"
    default_hint = "skip this module (bulk read excludes Notes, Attachments, Emails, ...)"


def strip_query(path: str) -> str:
    """The path only: no scheme/host, query string or fragment (no parameter reaches a text)."""
    if "://" in path:
        path = urlsplit(path).path or "/"
    for sep in ("?", "#"):
        path = path.split(sep, 1)[0]
    return path
