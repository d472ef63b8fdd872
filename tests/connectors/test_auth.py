from __future__ import annotations

import threading

import pytest
import requests

from connectors.auth import OAuthCredentials, TokenManager
from connectors.errors import AuthError, FatalError
from connectors.retry import RetryPolicy
from tests.connectors.fakes import BASE, CREDS, Call, FakeZoho, Reply, error

FAST = RetryPolicy(max_attempts=3, initial_wait=0, jitter=0, sleep=lambda _: None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def manager(fake: FakeZoho, creds: OAuthCredentials = CREDS, **kw: object) -> TokenManager:
    return TokenManager(creds, BASE, session=fake.session(), retry=FAST, **kw)  # type: ignore[arg-type]


def test_token_is_cached_and_refreshed_shortly_before_expiry() -> None:
    fake, clock = FakeZoho(), Clock()
    tm = manager(fake, clock=clock, refresh_margin_s=60)
    first = tm.token()
    assert tm.token() is first
    assert tm.api_domain == BASE
    clock.now += 3600 - 61
    assert tm.token() is first
    clock.now += 2  # now inside the 60 s margin
    second = tm.token()
    assert second.value != first.value
    assert tm.refresh_count == 2
    form = fake.calls[0].body.decode()
    assert "grant_type=refresh_token" in form
    assert fake.calls[0].query == {}  # secrets travel in the body, never in the URL


def test_refresh_happens_once_when_many_threads_report_the_same_rejected_token() -> None:
    fake = FakeZoho()
    tm = manager(fake)
    rejected = tm.token()
    barrier = threading.Barrier(12)
    results = []

    def worker() -> None:
        barrier.wait()
        results.append(tm.refresh_after_rejection(rejected).value)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tm.refresh_count == 2  # initial + exactly one after the rejection
    assert len(set(results)) == 1
    assert results[0] != rejected.value


def test_refused_refresh_is_a_clear_fatal_error_without_secrets() -> None:
    fake = FakeZoho()
    bad = OAuthCredentials(
        client_id="1000.ID", client_secret="wrong-secret-xyz", refresh_token="1000.refresh-xyz"
    )
    tm = manager(fake, creds=bad)
    with pytest.raises(AuthError) as info:
        tm.token()
    text = str(info.value)
    assert isinstance(info.value, FatalError)
    assert info.value.code == "invalid_client"
    assert "client id, client secret and refresh token" in text
    assert "data centre" in text
    for secret in ("wrong-secret-xyz", "1000.refresh-xyz", "1000.ID"):
        assert secret not in text
        assert secret not in repr(bad)
    assert fake.count("POST", "/oauth/v2/token") == 1  # fatal: not retried


def test_token_endpoint_outage_is_retried() -> None:
    fake = FakeZoho()
    replies = [error(503, "UNAVAILABLE"), error(502, "BAD_GATEWAY")]
    real = fake.routes[("POST", "/oauth/v2/token")]

    def flaky(call: Call) -> Reply:
        return replies.pop(0) if replies else real(call)

    fake.route("POST", "/oauth/v2/token", flaky)
    assert manager(fake).token().value == "1000.fake-access-1"
    assert fake.count("POST", "/oauth/v2/token") == 3


def test_unreachable_accounts_server_is_retriable_then_raised() -> None:
    fake = FakeZoho()
    fake.route(
        "POST",
        "/oauth/v2/token",
        lambda c: Reply(exc=requests.ConnectionError("refused by 127.0.0.1")),
    )
    from connectors.errors import ConnectionDroppedError

    with pytest.raises(ConnectionDroppedError, match="accounts server"):
        manager(fake).token()
    assert fake.count("POST", "/oauth/v2/token") == 3


def test_http_error_status_from_accounts_is_fatal_auth_error() -> None:
    fake = FakeZoho()
    fake.route("POST", "/oauth/v2/token", lambda c: Reply(400, {"error": "invalid_code"}))
    with pytest.raises(AuthError, match="invalid_code"):
        manager(fake).token()


def test_access_token_value_is_not_in_repr() -> None:
    tok = manager(FakeZoho()).token()
    assert tok.value not in repr(tok)
    assert tok.header == {"Authorization": f"Zoho-oauthtoken {tok.value}"}


def test_expires_in_variants() -> None:
    fake, clock = FakeZoho(), Clock()
    fake.route(
        "POST",
        "/oauth/v2/token",
        lambda c: Reply(200, {"access_token": "t", "expires_in": 3_600_000}),
    )
    tok = manager(fake, clock=clock).token()
    assert tok.expires_at == pytest.approx(clock.now + 3600)
    assert tok.api_domain is None
