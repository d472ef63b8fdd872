"""One attempt of an HTTP call to Zoho, below the retries and the credit meter of `ZohoHttp`.

The pooled session (urllib3's own retries off), the timeouts, URL helpers that keep query
strings out of logs, the host check (`require_trusted`: the one place that decides which
hosts get a request and the token), fetching the access token, and sending one request
without following redirects. `connectors.http.ZohoHttp` composes these into a logical call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from connectors.auth import AccessToken
from connectors.datacenters import origin_of
from connectors.errors import ConnectFailedError, ConnectionDroppedError, ForeignHostError
from connectors.responses import (
    TOKEN_CODES,
    json_or_none,
    parse_error_body,
    stream_json,
    transport_error,
)

#: the client's logger: one line per request, as ``ZohoHttp``'s
log = logging.getLogger("connectors.http")


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


def require_trusted(trusted_origins: frozenset[str], method: str, url: str, path: str) -> None:
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
    if origin not in trusted_origins:
        host = origin.split("://", 1)[1]
        raise ForeignHostError(
            f"refused to send {method} to {host}: it is not a host of this org's Zoho "
            "data centre, the configured simulator or an endpoint override",
            host=host,
            method=method,
            path=path,
        )


def fetch_token(get: Callable[[], AccessToken], method: str, path: str) -> AccessToken:
    """An access token; an unreachable accounts server means this call was never sent."""
    try:
        return get()
    except ConnectionDroppedError as exc:
        raise ConnectFailedError(
            f"no access token, so nothing was sent ({exc.message})", method=method, path=path
        ) from None


def send_once(
    session: requests.Session,
    timeouts: Timeouts,
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
        response = session.request(
            method,
            url,
            params=kwargs.get("params"),
            json=kwargs.get("json"),
            data=kwargs.get("data"),
            files=files,
            headers=headers,
            stream=bool(kwargs.get("stream")),
            timeout=timeouts.as_tuple(),
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


def is_token_rejection(response: requests.Response, kwargs: dict[str, Any]) -> bool:
    payload = json_or_none(response) if not kwargs.get("stream") else stream_json(response)
    body = parse_error_body(payload)
    # A 401 without a readable body is treated as a token problem too: refreshing is cheap.
    return body is None or body.code.upper() in TOKEN_CODES
