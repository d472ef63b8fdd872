from __future__ import annotations

import requests

from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller


def _token(sim: SimServer, dc: str, **params: str) -> requests.Response:
    return requests.post(f"{sim.base_url}/{dc}/accounts/oauth/v2/token", params=params, timeout=5)


def _refresh_params(sim: SimServer, org_key: str = "us-enterprise") -> dict[str, str]:
    org = sim.state.org(org_key)
    return {
        "grant_type": "refresh_token",
        "client_id": org.client_id,
        "client_secret": org.client_secret,
        "refresh_token": org.refresh_token,
    }


def test_refresh_with_query_parameters(sim: SimServer) -> None:
    response = _token(sim, "us", **_refresh_params(sim))
    assert response.status_code == 200
    body = response.json()
    assert body["api_domain"] == f"{sim.base_url}/us/api"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"].startswith("1000.")
    assert "refresh_token" not in body


def test_bad_refresh_token_is_http_200_invalid_code(sim: SimServer) -> None:
    params = {**_refresh_params(sim), "refresh_token": "1000.wrong"}
    response = _token(sim, "us", **params)
    assert response.status_code == 200
    assert response.json() == {"error": "invalid_code"}


def test_bad_client_and_secret(sim: SimServer) -> None:
    assert _token(sim, "us", **{**_refresh_params(sim), "client_id": "x"}).json() == {
        "error": "invalid_client"
    }
    assert _token(sim, "us", **{**_refresh_params(sim), "client_secret": "x"}).json() == {
        "error": "invalid_client_secret"
    }
    assert _token(sim, "us", grant_type="password").json() == {"error": "unsupported_grant_type"}


def test_org_refreshes_only_at_its_own_dc(sim: SimServer) -> None:
    response = _token(sim, "eu", **_refresh_params(sim, "us-enterprise"))
    assert response.json() == {"error": "invalid_client"}
    eu = _token(sim, "eu", **_refresh_params(sim, "eu-professional")).json()
    assert eu["api_domain"] == f"{sim.base_url}/eu/api"


def test_token_works_only_in_its_dc(sim: SimServer, crm: ZohoCaller) -> None:
    fields = "/crm/v8/settings/fields?module=Leads"
    assert crm.get(f"{sim.base_url}/us/api{fields}").status_code == 200
    other = crm.get(f"{sim.base_url}/eu/api{fields}")
    assert other.status_code == 401
    assert other.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


def test_missing_or_unknown_token_is_401(sim: SimServer) -> None:
    url = f"{sim.base_url}/us/api/crm/v8/settings/fields?module=Leads"
    assert requests.get(url, timeout=5).status_code == 401
    bad = {"Authorization": "Zoho-oauthtoken 1000.nope"}
    assert requests.get(url, headers=bad, timeout=5).json()["code"] == "INVALID_TOKEN"


def test_bearer_prefix_is_accepted(sim: SimServer, crm: ZohoCaller) -> None:
    url = f"{crm.api}/crm/v8/settings/fields?module=Leads"
    response = requests.get(url, headers={"Authorization": f"Bearer {crm.token}"}, timeout=5)
    assert response.status_code == 200


def test_access_token_expires_with_the_clock(sim: SimServer, crm: ZohoCaller) -> None:
    url = f"{crm.api}/crm/v8/settings/fields?module=Leads"
    sim.state.clock.advance(3599)
    assert crm.get(url).status_code == 200
    sim.state.clock.advance(2)
    assert crm.get(url).json()["code"] == "INVALID_TOKEN"
    crm.token = crm.refresh()
    assert crm.get(url).status_code == 200


def test_token_ttl_is_configurable(sim: SimServer) -> None:
    sim.state.configure(token_ttl=60)
    assert _token(sim, "us", **_refresh_params(sim)).json()["expires_in"] == 60


def test_revoked_access_tokens_and_refresh_token(sim: SimServer, crm: ZohoCaller) -> None:
    url = f"{crm.api}/crm/v8/settings/fields?module=Leads"
    assert sim.state.revoke_access_tokens("us-enterprise") == 1
    assert crm.get(url).status_code == 401
    sim.state.revoke_refresh_token("us-enterprise")
    assert _token(sim, "us", **_refresh_params(sim)).json() == {"error": "invalid_code"}


def test_revocation_over_http(sim: SimServer, crm: ZohoCaller) -> None:
    response = requests.post(
        f"{sim.base_url}/_sim/tokens/revoke", json={"org": "us-enterprise"}, timeout=5
    )
    assert response.json() == {"revoked_access_tokens": 1}
    assert _token(sim, "us", **_refresh_params(sim)).json() == {"error": "invalid_code"}
    missing = requests.post(f"{sim.base_url}/_sim/tokens/revoke", json={"org": "x"}, timeout=5)
    assert missing.status_code == 404


def test_tokens_issued_are_counted(sim: SimServer, crm: ZohoCaller) -> None:
    crm.refresh()
    assert sim.state.stats.snapshot()["tokens_issued"] == {"us-enterprise": 2}


def test_token_rate_limit_per_10_minutes(sim: SimServer) -> None:
    sim.state.configure(token_rate_limit=2)
    params = _refresh_params(sim)
    assert "access_token" in _token(sim, "us", **params).json()
    assert "access_token" in _token(sim, "us", **params).json()
    refused = _token(sim, "us", **params)
    assert refused.status_code == 400
    assert refused.json()["error"] == "Access Denied"
    assert "access_token" in _token(sim, "eu", **_refresh_params(sim, "eu-professional")).json()
    sim.state.clock.advance(601)
    assert "access_token" in _token(sim, "us", **params).json()
