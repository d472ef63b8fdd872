from __future__ import annotations

import pytest

from connectors.datacenters import DATA_CENTERS, Endpoints, Environment, origin_of


def test_table_covers_every_documented_dc() -> None:
    assert set(DATA_CENTERS) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"}


@pytest.mark.parametrize(
    ("dc", "accounts", "api", "upload", "recruit"),
    [
        (
            "us",
            "https://accounts.zoho.com",
            "https://www.zohoapis.com",
            "https://content.zohoapis.com",
            "https://recruit.zoho.com",
        ),
        (
            "eu",
            "https://accounts.zoho.eu",
            "https://www.zohoapis.eu",
            "https://content.zohoapis.eu",
            "https://recruit.zoho.eu",
        ),
        (
            "in",
            "https://accounts.zoho.in",
            "https://www.zohoapis.in",
            "https://content.zohoapis.in",
            "https://recruit.zoho.in",
        ),
        (
            "au",
            "https://accounts.zoho.com.au",
            "https://www.zohoapis.com.au",
            "https://content.zohoapis.com.au",
            "https://recruit.zoho.com.au",
        ),
        (
            "jp",
            "https://accounts.zoho.jp",
            "https://www.zohoapis.jp",
            "https://content.zohoapis.jp",
            "https://recruit.zoho.jp",
        ),
        (
            "cn",
            "https://accounts.zoho.com.cn",
            "https://www.zohoapis.com.cn",
            "https://content.zohoapis.com.cn",
            "https://recruit.zoho.com.cn",
        ),
        (
            "ca",
            "https://accounts.zohocloud.ca",
            "https://www.zohoapis.ca",
            "https://upload.zohocloud.ca",
            "https://recruit.zohocloud.ca",
        ),
        (
            "sa",
            "https://accounts.zoho.sa",
            "https://www.zohoapis.sa",
            "https://files.zoho.sa",
            "https://recruit.zoho.sa",
        ),
        (
            "uk",
            "https://accounts.zoho.uk",
            "https://www.zohoapis.uk",
            "https://content.zohoapis.uk",
            "https://recruit.zoho.uk",
        ),
    ],
)
def test_production_hosts(dc: str, accounts: str, api: str, upload: str, recruit: str) -> None:
    e = Endpoints.for_dc(dc)
    assert (e.accounts, e.crm_api, e.upload, e.recruit) == (accounts, api, upload, recruit)
    assert e.environment is Environment.PRODUCTION
    assert not e.crm_api_pinned


def test_sandbox_and_developer_change_only_the_api_host() -> None:
    sandbox = Endpoints.for_dc("eu", environment="sandbox")
    developer = Endpoints.for_dc("eu", environment=Environment.DEVELOPER)
    assert sandbox.crm_api == "https://sandbox.zohoapis.eu"
    assert developer.crm_api == "https://developer.zohoapis.eu"
    assert sandbox.accounts == developer.accounts == "https://accounts.zoho.eu"


def test_overrides_replace_hosts_and_pin_the_crm_api() -> None:
    e = Endpoints.for_dc(
        "us", overrides={"crm_api": "http://127.0.0.1:9/api/", "accounts": "http://127.0.0.1:9/acc"}
    )
    assert e.crm_api == "http://127.0.0.1:9/api"
    assert e.accounts == "http://127.0.0.1:9/acc"
    assert e.crm_api_pinned
    assert e.crm_api_for("https://www.zohoapis.eu") == "http://127.0.0.1:9/api"


def test_unpinned_crm_api_follows_the_token_api_domain() -> None:
    e = Endpoints.for_dc("us")
    assert e.crm_api_for("https://www.zohoapis.eu/") == "https://www.zohoapis.eu"
    assert e.crm_api_for(None) == "https://www.zohoapis.com"


def test_simulator_layout() -> None:
    e = Endpoints.for_simulator("http://127.0.0.1:8000/", "jp")
    assert e.accounts == "http://127.0.0.1:8000/jp/accounts"
    assert e.crm_api == "http://127.0.0.1:8000/jp/api"
    assert e.upload == "http://127.0.0.1:8000/jp/content"
    assert e.download == "http://127.0.0.1:8000/jp/download"
    assert e.recruit == "http://127.0.0.1:8000/jp/recruit"
    assert not e.crm_api_pinned


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Zoho data centre"):
        Endpoints.for_dc("mars")
    with pytest.raises(ValueError, match="unknown endpoint override"):
        Endpoints.for_dc("us", overrides={"ftp": "http://x"})
    with pytest.raises(ValueError, match="http"):
        Endpoints.for_dc("us", overrides={"accounts": "accounts.zoho.com"})


def test_trusted_origins_are_the_data_centres_hosts_plus_configured_endpoints() -> None:
    eu = Endpoints.for_dc("eu", overrides={"download": "https://files.example.net:8443/x"})
    trusted = eu.trusted_origins()
    for host in DATA_CENTERS["eu"].hosts():
        assert origin_of(host) in trusted
    assert "https://files.example.net:8443" in trusted  # an explicit override
    assert "https://www.zohoapis.com:443" not in trusted  # another data centre's host
    assert "http://www.zohoapis.eu:80" not in trusted  # plain http to a Zoho host
    sim = Endpoints.for_simulator("http://127.0.0.1:8000", "us").trusted_origins()
    assert "http://127.0.0.1:8000" in sim
    assert "http://127.0.0.1:8001" not in sim


def test_origin_of_normalises_case_and_default_ports() -> None:
    assert origin_of("https://WWW.ZohoApis.com/crm/v8?x=1") == "https://www.zohoapis.com:443"
    assert origin_of("http://127.0.0.1:9/a") == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="absolute"):
        origin_of("/crm/bulk/v8/read/1/result")
    with pytest.raises(ValueError, match="absolute"):
        origin_of("ftp://www.zohoapis.com/x")


def test_recruit_uploads_go_to_the_upload_host_which_is_trusted() -> None:
    us = Endpoints.for_dc("us")
    assert us.recruit_upload == "https://upload.zoho.com"  # §3, [R-BW-UPLOAD]
    assert "https://upload.zoho.com:443" in us.trusted_origins()
    assert Endpoints.for_dc("eu").recruit_upload == "https://upload.zoho.eu"
    sim = Endpoints.for_simulator("http://127.0.0.1:8000", "jp")
    assert sim.recruit_upload == "http://127.0.0.1:8000/jp/upload"
