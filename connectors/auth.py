"""OAuth for Zoho: the refresh-token flow and a thread-safe access-token cache.

``POST {accounts}/oauth/v2/token`` with ``grant_type=refresh_token`` (form body, never query
parameters, so no secret can reach a URL or an access log) answers
``{"access_token", "api_domain", "expires_in"}``, or ``{"error": "invalid_code"}`` (often with
HTTP 200) when the client id, secret, refresh token or data centre is wrong.

``TokenManager`` refreshes shortly before expiry and, when many threads see a 401 at once,
exactly once: each caller says which token was rejected, and only a caller holding the
current token triggers a refresh. The others pick up the new one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, SecretStr

from connectors.errors import AuthError, ConnectionDroppedError, UnexpectedResponseError
from connectors.responses import error_for, json_or_none, parse_error_body
from connectors.retry import RetryPolicy

log = logging.getLogger("connectors.auth")

TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 (a URL path)
DEFAULT_EXPIRES_IN = 3600


class OAuthCredentials(BaseModel):
    """A Zoho self-client or server-based client's credentials. Every field is secret."""

    model_config = ConfigDict(frozen=True)

    client_id: SecretStr
    client_secret: SecretStr
    refresh_token: SecretStr

    @classmethod
    def of(cls, client_id: str, client_secret: str, refresh_token: str) -> OAuthCredentials:
        """Build from plain strings (typed for mypy, which does not run pydantic's plugin)."""
        return cls(
            client_id=SecretStr(client_id),
            client_secret=SecretStr(client_secret),
            refresh_token=SecretStr(refresh_token),
        )


@dataclass(frozen=True)
class AccessToken:
    """A live access token. ``value`` is never part of ``repr``."""

    value: str = field(repr=False)
    expires_at: float
    api_domain: str | None
    serial: int

    @property
    def header(self) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.value}"}


class TokenManager:
    """Caches one access token per credentials; refreshes it when needed, once."""

    def __init__(
        self,
        credentials: OAuthCredentials,
        accounts_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (10.0, 30.0),
        retry: RetryPolicy | None = None,
        refresh_margin_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._token_url = accounts_url.rstrip("/") + TOKEN_PATH
        self._session = session or requests.Session()
        self._timeout = timeout
        self._retry = retry or RetryPolicy(max_attempts=4)
        self._margin = refresh_margin_s
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._refreshes = 0

    @property
    def refresh_count(self) -> int:
        """How many refreshes this manager performed (tests assert "exactly once")."""
        return self._refreshes

    @property
    def api_domain(self) -> str | None:
        """The ``api_domain`` from the latest token response (refreshing if none yet)."""
        return self.token().api_domain

    def token(self) -> AccessToken:
        """The current access token, refreshed if it is missing or about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._token.expires_at - self._margin:
                self._token = self._refresh_locked()
            return self._token

    def refresh_after_rejection(self, rejected: AccessToken) -> AccessToken:
        """Zoho rejected ``rejected`` (401): refresh unless another thread already did."""
        with self._lock:
            if self._token is None or self._token.serial == rejected.serial:
                self._token = self._refresh_locked()
            return self._token

    def _refresh_locked(self) -> AccessToken:
        for attempt in self._retry.retrying(f"POST {TOKEN_PATH}"):
            with attempt:
                token = self._request_token()
        self._refreshes += 1
        log.info(
            "refreshed Zoho access token (valid %.0f s, api_domain %s)",
            token.expires_at - self._clock(),
            token.api_domain or "-",
        )
        return token

    def _request_token(self) -> AccessToken:
        creds = self._credentials
        form = {
            "grant_type": "refresh_token",
            "client_id": creds.client_id.get_secret_value(),
            "client_secret": creds.client_secret.get_secret_value(),
            "refresh_token": creds.refresh_token.get_secret_value(),
        }
        try:
            response = self._session.post(self._token_url, data=form, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ConnectionDroppedError(
                f"could not reach the Zoho accounts server ({type(exc).__name__})",
                method="POST",
                path=TOKEN_PATH,
            ) from None
        payload = json_or_none(response)
        if response.status_code != 200:
            body = parse_error_body(payload)
            err = error_for(response.status_code, body, method="POST", path=TOKEN_PATH)
            if response.status_code < 500 and response.status_code != 429:
                raise AuthError(
                    f"the accounts server refused the token refresh ({err.code})",
                    code=err.code,
                    http_status=response.status_code,
                    method="POST",
                    path=TOKEN_PATH,
                )
            raise err
        return self._parse_token(payload)

    def _parse_token(self, payload: Any) -> AccessToken:
        if not isinstance(payload, dict):
            raise UnexpectedResponseError(
                "token response is not a JSON object", method="POST", path=TOKEN_PATH
            )
        if "error" in payload or not payload.get("access_token"):
            code = str(payload.get("error") or "NO_ACCESS_TOKEN")
            raise AuthError(
                f"the accounts server refused the refresh token ({code})",
                code=code,
                http_status=200,
                method="POST",
                path=TOKEN_PATH,
            )
        expires_in = payload.get("expires_in", payload.get("expires_in_sec", DEFAULT_EXPIRES_IN))
        try:
            seconds = float(str(expires_in))
        except (TypeError, ValueError):
            seconds = DEFAULT_EXPIRES_IN
        # The old ``expires_in_sec`` era sent milliseconds in ``expires_in``; treat huge
        # values as milliseconds.
        if seconds > 24 * 3600:
            seconds /= 1000.0
        api_domain = payload.get("api_domain")
        serial = self._refreshes + 1
        return AccessToken(
            value=str(payload["access_token"]),
            expires_at=self._clock() + seconds,
            api_domain=str(api_domain) if api_domain else None,
            serial=serial,
        )
