"""The HTTP core every Zoho client uses: hosts, pooling, timeouts, auth, credits, retries, errors.

One ``ZohoHttp`` per org. Each logical call goes through:

1. the host check: a URL whose origin (scheme, host, port) is not one of the org's trusted
   origins (its data centre's hosts, the configured simulator or overrides:
   ``Endpoints.trusted_origins``) raises ``ForeignHostError`` before anything is sent, so the
   access token never leaves Zoho. This is the only place that decides it; redirects are not
   followed (a 3xx is an error, not a hop to another host);
2. the credit meter (``reserve``: raises before sending when the budget cannot pay);
3. the access token (``Authorization: Zoho-oauthtoken ...``); a 401 ``INVALID_TOKEN`` refreshes
   the token once for all threads and replays the call once;
4. error mapping (``connectors.responses.error_for``);
5. tenacity retries with exponential backoff + jitter, honouring ``Retry-After``. Idempotent
   methods (GET...) retry every ``recovery.TransientError``. A POST (job create, upload) is repeated
   only when Zoho cannot have acted on it: it answered 429/5xx, or the connection could not be
   opened (``ConnectFailedError``). When the connection drops or times out *after* the request
   was sent, the POST is not repeated: ``OutcomeUnknownError`` tells the caller, which knows
   whether a duplicate is harmless (``request_json_resending``) or must be ruled out first.

Credits: a call whose answer was lost after it was sent is metered as charged (Zoho charges a
call it served even when the answer never arrives); only a refused connection or a 429/5xx
answer is free. UNCERTAIN: a connection dropped before Zoho read the request is counted too,
so the meter can over-count (never under-count); and a 502/504 from a gateway in front of
Zoho is taken at its word (not acted on), as Zoho's error envelope says.

Log lines and errors name the method and the URL *path* only, never query strings, headers
or bodies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from connectors.auth import AccessToken, TokenManager
from connectors.credits import CREDITS_REMAINING_HEADER, CallType, CreditMeter
from connectors.datacenters import origin_of
from connectors.errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    ForeignHostError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TokenRejectedError,
    UnexpectedResponseError,
)
from connectors.responses import (
    RETRIABLE_STATUSES,
    TOKEN_CODES,
    error_for,
    explicit_error,
    json_or_none,
    looks_like_json,
    parse_error_body,
    retry_after_seconds,
    stream_json,
    transport_error,
)
from connectors.retry import RetryPolicy
from connectors.streaming import DownloadResult, stream_to_file
from recovery.errors import TransientError

log = logging.getLogger("connectors.http")

OK_STATUSES: frozenset[int] = frozenset({200, 201, 202, 204, 304})
DEFAULT_CHUNK = 1 << 20  # 1 MiB: the most a download holds in memory at once
#: Methods whose repetition changes nothing on Zoho's side (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Failures after which Zoho certainly did not act: safe to send a POST again.
NOT_ACTED_ON: tuple[type[Exception], ...] = (RateLimitedError, ServerError, ConnectFailedError)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection and between bytes of an answer."""

    connect: float = 10.0
    read: float = 120.0

    def __post_init__(self) -> None:
        if self.connect <= 0 or self.read <= 0:
            raise ValueError(f"timeouts must be > 0, got {self}")

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class Resent:
    """The answer of a call sent until answered, and how many earlier sends got no answer."""

    payload: Any
    unanswered: int


Files = Mapping[str, Any]
FilesFactory = Callable[[], Files]


def url_path(url: str) -> str:
    """The path of ``url`` (no scheme, host, query or fragment): safe for logs and errors."""
    return urlsplit(url).path or "/"


def join_url(base: str, url: str) -> str:
    """``url`` if it is absolute, else ``url`` under ``base`` (Zoho's relative download URLs).

    An absolute URL is returned as it is: whether it may be fetched (and get the token) is
    decided by ``ZohoHttp``'s host check, not here.
    """
    if urlsplit(url).scheme:
        return url
    return base.rstrip("/") + "/" + url.lstrip("/")


def build_session(pool_size: int = 10, user_agent: str = "zoho-bulk-etl/0.1") -> requests.Session:
    """A pooled session with urllib3's own retries off (tenacity does the retrying)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


class ZohoHttp:
    """Authenticated, metered, retrying requests to one Zoho org."""

    def __init__(
        self,
        tokens: TokenManager | None,
        meter: CreditMeter | None = None,
        *,
        trusted_origins: Collection[str],
        session: requests.Session | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``trusted_origins``: base URLs (or origins) that may receive requests and the
        token, normally ``Endpoints.trusted_origins()``; every other origin is refused."""
        self.tokens = tokens
        self.meter = meter or CreditMeter()
        self.trusted_origins = frozenset(origin_of(url) for url in trusted_origins)
        self.session = session or build_session()
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()

    def close(self) -> None:
        self.session.close()

    # -- plain requests ---------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        call_type: CallType,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        files: Files | FilesFactory | None = None,
        headers: Mapping[str, str] | None = None,
        records: int | None = None,
        authenticated: bool = True,
        ok_statuses: Collection[int] = OK_STATUSES,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send one logical call (with retries); return the successful response.

        ``files`` may be a callable returning fresh file objects, so a retried upload
        re-reads its file from the start. ``idempotent`` defaults to the method's nature;
        a non-idempotent call is repeated only after failures Zoho cannot have acted on,
        and raises ``OutcomeUnknownError`` when its answer is lost after sending.
        """
        path = url_path(url)
        repeatable = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        try:
            return self._request_with_retries(
                method,
                url,
                path,
                repeatable,
                call_type=call_type,
                records=records,
                authenticated=authenticated,
                ok_statuses=ok_statuses,
                kwargs={
                    "params": params,
                    "json": json,
                    "data": data,
                    "files": files,
                    "headers": headers,
                },
            )
        except ConnectionDroppedError as exc:
            if repeatable or isinstance(exc, ConnectFailedError):
                raise
            raise OutcomeUnknownError(
                f"the answer was lost after the request was sent ({exc.code}); Zoho may "
                "have acted on it, so it was not sent again",
                method=method,
                path=path,
            ) from None

    def request_json_resending(
        self, method: str, url: str, *, call_type: CallType, **kw: Any
    ) -> Resent:
        """A non-idempotent call whose duplicate is harmless or accounted for, sent until
        answered: each send whose answer was lost (``OutcomeUnknownError``) is counted in
        ``Resent.unanswered`` (and metered as charged) and the call is sent again, up to the
        retry policy's ``max_attempts`` sends. Callers must say why a duplicate is acceptable.
        """
        unanswered = 0
        path = url_path(url)
        try:
            for attempt in self.retry.retrying(
                f"{method} {path} (answer lost)", OutcomeUnknownError
            ):
                with attempt:
                    try:
                        payload = self.request_json(method, url, call_type=call_type, **kw)
                    except OutcomeUnknownError:
                        unanswered += 1
                        raise
        except OutcomeUnknownError as exc:
            raise OutcomeUnknownError(
                f"no answer to {unanswered} sends; each may have been acted on",
                attempts=unanswered,
                method=exc.method,
                path=exc.path,
            ) from None
        return Resent(payload=payload, unanswered=unanswered)

    def _request_with_retries(
        self,
        method: str,
        url: str,
        path: str,
        repeatable: bool,
        *,
        call_type: CallType,
        records: int | None,
        authenticated: bool,
        ok_statuses: Collection[int],
        kwargs: dict[str, Any],
    ) -> requests.Response:
        only = TransientError if repeatable else NOT_ACTED_ON
        for attempt in self.retry.retrying(f"{method} {path}", only):
            with attempt:
                response = self._metered_send(
                    method,
                    url,
                    call_type=call_type,
                    records=records,
                    authenticated=authenticated,
                    ok_statuses=ok_statuses,
                    kwargs=kwargs,
                )
        return response

    def request_json(self, method: str, url: str, *, call_type: CallType, **kw: Any) -> Any:
        """Like ``request`` but returns the decoded JSON body (``{}`` for 204/304)."""
        response = self.request(method, url, call_type=call_type, **kw)
        if response.status_code in (204, 304) or not response.content:
            return {}
        payload = json_or_none(response)
        if payload is None:
            raise UnexpectedResponseError(
                f"expected JSON, got {response.headers.get('Content-Type', 'no content type')}",
                http_status=response.status_code,
                method=method,
                path=url,
            )
        return payload

    # -- streamed downloads -----------------------------------------------------------

    def download_to(
        self,
        url: str,
        dest: Path,
        *,
        call_type: CallType,
        chunk_size: int = DEFAULT_CHUNK,
        max_bytes: int | None = None,
    ) -> DownloadResult:
        """Stream ``url`` into ``dest`` (via ``dest.part``), at most ``chunk_size`` in memory.

        A dropped connection or a body shorter than ``Content-Length`` is retried from the
        start. Nothing is left at ``dest`` unless the whole body arrived.
        """
        path = url_path(url)
        for attempt in self.retry.retrying(f"GET {path}"):
            with attempt:
                response = self._metered_send(
                    "GET",
                    url,
                    call_type=call_type,
                    records=None,
                    authenticated=True,
                    ok_statuses=OK_STATUSES,
                    kwargs={"stream": True},
                )
                result = stream_to_file(response, dest, path, chunk_size, max_bytes)
        return result

    # -- one attempt --------------------------------------------------------------------

    def _metered_send(
        self,
        method: str,
        url: str,
        *,
        call_type: CallType,
        records: int | None,
        authenticated: bool,
        ok_statuses: Collection[int],
        kwargs: dict[str, Any],
    ) -> requests.Response:
        path = url_path(url)
        self._require_trusted(method, url, path)
        reservation = self.meter.reserve(call_type, records)
        try:
            response = self._send_authenticated(method, url, path, authenticated, kwargs)
        except ConnectionDroppedError as exc:
            # sent, then no answer: Zoho charges a call it served (see module docstring)
            sent = not isinstance(exc, ConnectFailedError)
            self.meter.settle(reservation, charged=sent)
            raise
        except BaseException:
            self.meter.settle(reservation, charged=False)
            raise
        status = response.status_code
        self.meter.settle(
            reservation,
            charged=status not in RETRIABLE_STATUSES and status != 401,
            server_remaining=response.headers.get(CREDITS_REMAINING_HEADER),
        )
        if status in ok_statuses:
            body_error = None
            if not kwargs.get("stream") and looks_like_json(response):
                # Some Zoho errors come back with HTTP 200 (e.g. upload INVALID_FILE_FORMAT).
                body_error = explicit_error(json_or_none(response))
            if body_error is None:
                return response
            raise error_for(status, body_error, method=method, path=path)
        payload = json_or_none(response) if not kwargs.get("stream") else stream_json(response)
        response.close()
        raise error_for(
            status,
            parse_error_body(payload),
            method=method,
            path=path,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def _require_trusted(self, method: str, url: str, path: str) -> None:
        """The one place that decides which hosts get a request (and the token)."""
        try:
            origin = origin_of(url)
        except ValueError as exc:
            raise ForeignHostError(
                f"refused {method} to a URL that is not absolute http(s): {exc}",
                host="?",
                method=method,
                path=path,
            ) from None
        if origin not in self.trusted_origins:
            host = origin.split("://", 1)[1]
            raise ForeignHostError(
                f"refused to send {method} to {host}: it is not a host of this org's Zoho "
                "data centre, the configured simulator or an endpoint override",
                host=host,
                method=method,
                path=path,
            )

    def _send_authenticated(
        self, method: str, url: str, path: str, authenticated: bool, kwargs: dict[str, Any]
    ) -> requests.Response:
        tokens = self.tokens
        if not authenticated or tokens is None:
            return self._send(method, url, path, None, kwargs)
        token = self._token(tokens.token, method, path)
        response = self._send(method, url, path, token, kwargs)
        if response.status_code != 401 or not _is_token_rejection(response, kwargs):
            return response
        response.close()
        log.info("%s %s: access token rejected; refreshing and replaying once", method, path)
        fresh = self._token(lambda: tokens.refresh_after_rejection(token), method, path)
        response = self._send(method, url, path, fresh, kwargs)
        if response.status_code == 401 and _is_token_rejection(response, kwargs):
            response.close()
            raise TokenRejectedError(
                "Zoho rejected the access token again right after a refresh",
                http_status=401,
                method=method,
                path=path,
            )
        return response

    @staticmethod
    def _token(get: Callable[[], AccessToken], method: str, path: str) -> AccessToken:
        """An access token; an unreachable accounts server means this call was never sent."""
        try:
            return get()
        except ConnectionDroppedError as exc:
            raise ConnectFailedError(
                f"no access token, so nothing was sent ({exc.message})", method=method, path=path
            ) from None

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        token: AccessToken | None,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        headers = dict(kwargs.get("headers") or {})
        if token is not None:
            headers.update(token.header)
        files = kwargs.get("files")
        if callable(files):
            files = files()
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                data=kwargs.get("data"),
                files=files,
                headers=headers,
                stream=bool(kwargs.get("stream")),
                timeout=self.timeouts.as_tuple(),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise transport_error(exc, method, path) from None
        log.debug(
            "%s %s -> %d (%.3f s)",
            method,
            path,
            response.status_code,
            time.perf_counter() - started,
        )
        return response


def _is_token_rejection(response: requests.Response, kwargs: dict[str, Any]) -> bool:
    payload = json_or_none(response) if not kwargs.get("stream") else stream_json(response)
    body = parse_error_body(payload)
    # A 401 without a readable body is treated as a token problem too: refreshing is cheap.
    return body is None or body.code.upper() in TOKEN_CODES


__all__ = [
    "IDEMPOTENT_METHODS",
    "DownloadResult",
    "Resent",
    "Timeouts",
    "ZohoHttp",
    "build_session",
    "join_url",
    "url_path",
]
