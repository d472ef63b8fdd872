"""An in-process fake Zoho for unit tests: a requests transport adapter with route handlers.

Integration tests use the real simulator over loopback HTTP; these fakes make the pure
unit tests (retry classification, token storms, credit refunds) fast and deterministic.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.auth import OAuthCredentials, TokenManager
from connectors.credits import CreditMeter
from connectors.http import Timeouts, ZohoHttp
from connectors.retry import RetryPolicy

BASE = "https://fake.zoho.test"
CREDS = OAuthCredentials(
    client_id="1000.FAKECLIENTID",
    client_secret="fake-client-secret-value",
    refresh_token="1000.fake-refresh-token-value",
)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Call], "Reply"]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    exc: Exception | None = None


class FakeZoho(BaseAdapter):
    """Routes ``(METHOD, path)`` to handlers; records every call (thread-safe)."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Handler] = {}
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.route("POST", "/oauth/v2/token", self._token)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def session(self) -> requests.Session:
        s = requests.Session()
        s.mount(BASE, self)
        return s

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for c in self.calls if c.method == method and c.path == path)

    def _token(self, call: Call) -> Reply:
        form = parse_qs(call.body.decode())
        if form.get("client_secret") != [CREDS.client_secret.get_secret_value()]:
            return Reply(200, {"error": "invalid_client"})
        with self.lock:
            self.tokens_issued += 1
            token = f"1000.fake-access-{self.tokens_issued}"
            self.valid_tokens.add(token)
        return Reply(200, {"access_token": token, "api_domain": BASE, "expires_in": 3600})

    def authorized(self, call: Call) -> bool:
        auth = call.headers.get("Authorization", "")
        return auth.removeprefix("Zoho-oauthtoken ") in self.valid_tokens

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        call = Call(
            method=request.method or "GET",
            path=parts.path,
            query=parse_qs(parts.query),
            headers=dict(request.headers),
            body=body,
        )
        with self.lock:
            self.calls.append(call)
        handler = self.routes.get((call.method, call.path))
        reply = (
            handler(call)
            if handler
            else Reply(
                404, {"code": "INVALID_URL_PATTERN", "message": "no route", "status": "error"}
            )
        )
        if reply.exc is not None:
            raise reply.exc
        response = requests.Response()
        response.status_code = reply.status
        response.url = request.url or ""
        response.request = request
        content = (
            reply.raw
            if reply.raw is not None
            else (json.dumps(reply.body).encode() if reply.body is not None else b"")
        )
        headers = {"Content-Type": "application/json"} if reply.raw is None else {}
        headers.update(reply.headers)
        response.headers = CaseInsensitiveDict(headers)
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        return response

    def close(self) -> None:
        pass


def error(status: int, code: str, message: str = "m", **headers: str) -> Reply:
    return Reply(
        status,
        {"status": "error", "code": code, "message": message, "details": {}},
        headers=dict(headers),
    )


def client(
    fake: FakeZoho, *, budget: int | None = None, waits: list[float] | None = None
) -> ZohoHttp:
    sleeps = waits if waits is not None else []
    policy = RetryPolicy(max_attempts=4, initial_wait=0.01, jitter=0, sleep=sleeps.append)
    session = fake.session()
    tokens = TokenManager(CREDS, BASE, session=session, retry=policy)
    return ZohoHttp(
        tokens,
        CreditMeter(budget=budget),
        trusted_origins=(BASE,),
        session=session,
        retry=policy,
        timeouts=Timeouts(connect=1, read=2),
    )
