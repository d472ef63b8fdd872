"""Zoho data centres and the hosts each one serves, with every host overridable.

Facts: ``shared/docs/zoho-bulk-api.md`` §4 (SDK ``dc/*_data_center.py``, multi-DC docs).
Where the facts file says UNCERTAIN (UK API hosts, Recruit in CA/SA/UK, AU Recruit) the
likeliest host by Zoho's naming pattern is used; any of them can be overridden.

``Endpoints`` is what the clients use. Tests and the demo point it at the simulator with
``Endpoints.for_simulator(base_url, dc)``, whose layout is ``{base}/{dc}/{service}``.

``Endpoints.trusted_origins()`` is the list of origins (scheme, host, port) that may receive
the access token: every host of the org's data centre plus the configured endpoints (the
simulator, overrides). The HTTP core refuses any other origin (``connectors.http``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from urllib.parse import urlsplit

DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443}


class Environment(StrEnum):
    """Zoho CRM environments. Sandbox and developer orgs only change the API host."""

    PRODUCTION = "production"
    SANDBOX = "sandbox"
    DEVELOPER = "developer"


@dataclass(frozen=True)
class DataCenter:
    """The hosts of one Zoho data centre (production environment)."""

    code: str
    name: str
    accounts: str
    crm_api: str
    upload: str
    download: str
    recruit: str
    recruit_upload: str
    sandbox_api: str
    developer_api: str

    def hosts(self) -> tuple[str, ...]:
        """Every base URL of this data centre (all environments)."""
        return tuple(str(getattr(self, f.name)) for f in fields(self) if f.name not in _NOT_HOSTS)


_NOT_HOSTS = frozenset({"code", "name"})


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (lower case, default port filled in).

    Raises ``ValueError`` for a URL without an http(s) scheme or a host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {parts.scheme or '?'}://{parts.netloc}")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"bad port in {parts.netloc!r}") from None
    return f"{scheme}://{parts.hostname.lower()}:{port}"


def _dc(
    code: str,
    name: str,
    tld: str,
    accounts: str,
    upload: str,
    recruit: str,
    recruit_upload: str | None = None,
) -> DataCenter:
    # Recruit uploads go to Zoho's files host (§3, §7.1, [R-BW-UPLOAD]: upload.zoho.com), not
    # the CRM SDK's content host. Only the US host is documented; ``upload.zoho.{tld}`` for
    # the other data centres follows the pattern (UNCERTAIN; override with ``recruit_upload``).
    return DataCenter(
        code=code,
        name=name,
        accounts=accounts,
        crm_api=f"https://www.zohoapis.{tld}",
        upload=upload,
        download=f"https://download-accl.zoho.{tld}",
        recruit=recruit,
        recruit_upload=recruit_upload or f"https://upload.zoho.{tld}",
        sandbox_api=f"https://sandbox.zohoapis.{tld}",
        developer_api=f"https://developer.zohoapis.{tld}",
    )


DATA_CENTERS: Mapping[str, DataCenter] = {
    dc.code: dc
    for dc in (
        _dc(
            "us",
            "United States",
            "com",
            "https://accounts.zoho.com",
            "https://content.zohoapis.com",
            "https://recruit.zoho.com",
        ),
        _dc(
            "eu",
            "Europe",
            "eu",
            "https://accounts.zoho.eu",
            "https://content.zohoapis.eu",
            "https://recruit.zoho.eu",
        ),
        _dc(
            "in",
            "India",
            "in",
            "https://accounts.zoho.in",
            "https://content.zohoapis.in",
            "https://recruit.zoho.in",
        ),
        # AU Recruit host: UNCERTAIN (third-party material), follows the naming pattern.
        _dc(
            "au",
            "Australia",
            "com.au",
            "https://accounts.zoho.com.au",
            "https://content.zohoapis.com.au",
            "https://recruit.zoho.com.au",
        ),
        _dc(
            "jp",
            "Japan",
            "jp",
            "https://accounts.zoho.jp",
            "https://content.zohoapis.jp",
            "https://recruit.zoho.jp",
        ),
        _dc(
            "cn",
            "China",
            "com.cn",
            "https://accounts.zoho.com.cn",
            "https://content.zohoapis.com.cn",
            "https://recruit.zoho.com.cn",
        ),
        # CA and SA use their own accounts/upload hosts (SDK); Recruit there is UNCERTAIN.
        _dc(
            "ca",
            "Canada",
            "ca",
            "https://accounts.zohocloud.ca",
            "https://upload.zohocloud.ca",
            "https://recruit.zohocloud.ca",
            "https://upload.zohocloud.ca",
        ),
        _dc(
            "sa",
            "Saudi Arabia",
            "sa",
            "https://accounts.zoho.sa",
            "https://files.zoho.sa",
            "https://recruit.zoho.sa",
            "https://files.zoho.sa",
        ),
        # UK: only the accounts server is documented; the rest is UNCERTAIN.
        _dc(
            "uk",
            "United Kingdom",
            "uk",
            "https://accounts.zoho.uk",
            "https://content.zohoapis.uk",
            "https://recruit.zoho.uk",
        ),
    )
}

#: Services a host can be overridden for, and the simulator's path segment for each.
SERVICES: Mapping[str, str] = {
    "accounts": "accounts",
    "crm_api": "api",
    "upload": "content",
    "download": "download",
    "recruit": "recruit",
    "recruit_upload": "upload",
}


@dataclass(frozen=True)
class Endpoints:
    """Base URLs (scheme + host [+ path prefix], no trailing slash) for one org's data centre.

    ``crm_api_pinned`` is True when the CRM host was given explicitly (an override or the
    simulator): the ``api_domain`` of a token response is then not allowed to replace it.
    """

    dc: str
    environment: Environment
    accounts: str
    crm_api: str
    upload: str
    download: str
    recruit: str
    recruit_upload: str
    crm_api_pinned: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SERVICES and not str(value).startswith(("http://", "https://")):
                raise ValueError(f"Endpoints.{f.name} must be an http(s) URL, got {value!r}")
            if f.name in SERVICES and str(value).endswith("/"):
                object.__setattr__(self, f.name, str(value).rstrip("/"))

    @classmethod
    def for_dc(
        cls,
        dc: str = "us",
        *,
        environment: Environment | str = Environment.PRODUCTION,
        overrides: Mapping[str, str] | None = None,
    ) -> Endpoints:
        """Endpoints of a data centre, with optional per-service host overrides.

        ``overrides`` keys are ``accounts``, ``crm_api``, ``upload``, ``download``, ``recruit``,
        ``recruit_upload``.
        """
        try:
            center = DATA_CENTERS[dc.lower()]
        except KeyError:
            known = ", ".join(sorted(DATA_CENTERS))
            raise ValueError(f"unknown Zoho data centre {dc!r}; known: {known}") from None
        env = Environment(environment)
        crm_api = {
            Environment.PRODUCTION: center.crm_api,
            Environment.SANDBOX: center.sandbox_api,
            Environment.DEVELOPER: center.developer_api,
        }[env]
        endpoints = cls(
            dc=center.code,
            environment=env,
            accounts=center.accounts,
            crm_api=crm_api,
            upload=center.upload,
            download=center.download,
            recruit=center.recruit,
            recruit_upload=center.recruit_upload,
        )
        return endpoints.with_overrides(overrides or {})

    @classmethod
    def for_simulator(cls, base_url: str, dc: str = "us") -> Endpoints:
        """Endpoints served by the local simulator: ``{base_url}/{dc}/{service}``.

        The CRM host is not pinned: like Zoho, the simulator's token response names the API
        domain (``{base}/{dc}/api``), and the client follows it.
        """
        if dc.lower() not in DATA_CENTERS:
            raise ValueError(f"unknown Zoho data centre {dc!r}")
        base = base_url.rstrip("/")
        overrides = {name: f"{base}/{dc.lower()}/{seg}" for name, seg in SERVICES.items()}
        return replace(cls.for_dc(dc, overrides=overrides), crm_api_pinned=False)

    def with_overrides(self, overrides: Mapping[str, str]) -> Endpoints:
        unknown = set(overrides) - set(SERVICES)
        if unknown:
            raise ValueError(
                f"unknown endpoint override(s) {sorted(unknown)}; allowed: {sorted(SERVICES)}"
            )
        pinned = self.crm_api_pinned or "crm_api" in overrides
        changes: dict[str, object] = {**overrides, "crm_api_pinned": pinned}
        return replace(self, **changes)  # type: ignore[arg-type]

    def trusted_origins(self) -> frozenset[str]:
        """Origins that may receive the access token: the data centre's hosts and these
        endpoints (the simulator or explicit overrides). Nothing else gets a request."""
        urls = [*DATA_CENTERS[self.dc].hosts(), *(getattr(self, name) for name in SERVICES)]
        return frozenset(origin_of(url) for url in urls)

    def crm_api_for(self, api_domain: str | None) -> str:
        """The CRM API base: the token's ``api_domain`` unless the host was pinned."""
        if api_domain and not self.crm_api_pinned:
            return api_domain.rstrip("/")
        return self.crm_api
