"""One send: the token goes only to trusted origins, no redirect is followed, URLs join."""

from __future__ import annotations

import pytest

from connectors.credits import CallType
from connectors.errors import ForeignHostError, UnexpectedResponseError
from connectors.http_transport import join_url
from tests.connectors.fakes import BASE, FakeZoho, Reply, client

URL = BASE + "/crm/v8/Leads"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/crm/v8/Leads",
        "http://fake.zoho.test/crm/v8/Leads",  # same host, downgraded to plain http
        "https://fake.zoho.test:8443/crm/v8/Leads",  # same host, another port
        "https://fake.zoho.test.evil.example/crm/v8/Leads",
    ],
)
def test_a_url_off_the_trusted_origins_is_refused_before_anything_is_sent(url: str) -> None:
    fake = FakeZoho()
    http = client(fake)
    with pytest.raises(ForeignHostError) as info:
        http.request("GET", url, call_type=CallType.GET_RECORDS)
    assert fake.calls == []  # not even a token refresh
    host = url.split("://", 1)[1].split("/", 1)[0]
    assert info.value.host.split(":")[0] == host.split(":")[0]
    assert host.split(":")[0] in str(info.value)
    assert http.meter.report().used == 0


def test_a_redirect_is_not_followed_to_another_host() -> None:
    fake = FakeZoho()
    fake.route(
        "GET",
        "/crm/v8/Leads",
        lambda c: Reply(302, {}, headers={"Location": "https://evil.example/x"}),
    )
    with pytest.raises(UnexpectedResponseError):
        client(fake).request("GET", URL, call_type=CallType.GET_RECORDS)
    assert [c.path for c in fake.calls if c.path != "/oauth/v2/token"] == ["/crm/v8/Leads"]


def test_join_url_keeps_absolute_urls_for_the_host_check() -> None:
    assert join_url("https://a.test/base/", "/crm/x") == "https://a.test/base/crm/x"
    assert join_url("https://a.test", "https://b.test/y") == "https://b.test/y"
