"""Typed configuration of the simulator: data centres, editions, organisations, sizes, times.

``SimConfig`` is frozen; change it with ``SimState.configure(**changes)`` (or
``PATCH {base}/_sim/config``), which builds a new one with ``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: Data centres, as the first path segment: ``{base}/{dc}/{service}/...``.
DATA_CENTRES: tuple[str, ...] = ("us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk")

#: Hosts a data centre has, as the second path segment.
#: accounts = accounts.zoho.*, api = www.zohoapis.*, content = content.zohoapis.* (upload),
#: download = download-accl.zoho.* (bulk write results), recruit = recruit.zoho.*.
SERVICES: tuple[str, ...] = ("accounts", "api", "content", "download", "recruit")

PRODUCTS: tuple[str, ...] = ("crm", "recruit")


@dataclass(frozen=True)
class Edition:
    """A Zoho CRM edition: daily credits (rolling 24 h), in-flight call concurrency, and how
    many bulk jobs may be unfinished at once (UNCERTAIN in Zoho's docs: configurable here)."""

    name: str
    credits_per_day: int
    concurrency: int
    active_bulk_jobs: int = 10


DEFAULT_EDITIONS: Mapping[str, Edition] = MappingProxyType(
    {
        "free": Edition("free", 5_000, 5, 3),
        "standard": Edition("standard", 60_000, 10, 5),
        "professional": Edition("professional", 100_000, 15, 10),
        "enterprise": Edition("enterprise", 250_000, 20, 10),
        "ultimate": Edition("ultimate", 1_000_000, 25, 20),
    }
)


@dataclass(frozen=True)
class OrgSpec:
    """One simulated organisation (fixed, obviously fake credentials)."""

    key: str
    name: str
    dc: str
    edition: str
    zgid: str
    client_id: str
    client_secret: str
    refresh_token: str
    id_prefix: int  # 7 digits: record, user and job ids are id_prefix * 10**12 + n (19 digits)
    utc_offset_minutes: int
    user_name: str


DEFAULT_ORGS: tuple[OrgSpec, ...] = (
    OrgSpec(
        key="us-enterprise",
        name="Simulated Enterprise Inc (US)",
        dc="us",
        edition="enterprise",
        zgid="700000001",
        client_id="1000.SIMUSENTERPRISECLIENT0000000001",
        client_secret="sim-secret-us-enterprise-not-real",  # noqa: S106 (fake)
        refresh_token="1000.sim-refresh-us-enterprise.not-real",  # noqa: S106 (fake)
        id_prefix=4876876,
        utc_offset_minutes=-420,
        user_name="Patricia Boyle",
    ),
    OrgSpec(
        key="eu-professional",
        name="Simulierte GmbH (EU)",
        dc="eu",
        edition="professional",
        zgid="700000002",
        client_id="1000.SIMEUPROFESSIONALCLIENT00000002",
        client_secret="sim-secret-eu-professional-not-real",  # noqa: S106 (fake)
        refresh_token="1000.sim-refresh-eu-professional.not-real",  # noqa: S106 (fake)
        id_prefix=5725767,
        utc_offset_minutes=60,
        user_name="Jürgen Weiß",
    ),
    OrgSpec(
        key="in-free",
        name="Simulated Free Pvt Ltd (IN)",
        dc="in",
        edition="free",
        zgid="700000003",
        client_id="1000.SIMINFREECLIENT0000000000000003",
        client_secret="sim-secret-in-free-not-real",  # noqa: S106 (fake)
        refresh_token="1000.sim-refresh-in-free.not-real",  # noqa: S106 (fake)
        id_prefix=6110220,
        utc_offset_minutes=330,
        user_name="Ananya Iyer",
    ),
)

DEFAULT_RECORDS: Mapping[str, int] = MappingProxyType(
    {
        "Leads": 2_000,
        "Contacts": 1_500,
        "Accounts": 300,
        "Deals": 1_000,
        "Candidates": 1_000,
        "Job_Openings": 100,
        "Interviews": 500,
    }
)


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes the simulated Zoho; the defaults keep tests fast."""

    seed: int = 20_250_523
    #: generated records per module (every org gets the same counts, its own values)
    records: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RECORDS))
    #: bulk read records per page (Zoho: 200,000)
    per_page: int = 200_000
    #: a bulk job's processing time is drawn uniformly from this range (seconds)
    job_seconds: tuple[float, float] = (0.1, 0.3)
    token_ttl: float = 3600.0
    downloads_per_minute: int = 10
    result_retention: float = 86_400.0
    page_token_ttl: float = 86_400.0
    max_page: int = 500
    max_criteria: int = 25
    max_fields: int = 200
    #: REST Get Records: records reachable with page/per_page before page_token is required
    rest_discrete_limit: int = 2_000
    editions: Mapping[str, Edition] = field(default_factory=lambda: dict(DEFAULT_EDITIONS))
    orgs: tuple[OrgSpec, ...] = DEFAULT_ORGS
    #: rows generated at a time (memory per chunk, not a visible behaviour)
    chunk_size: int = 50_000
    zip_compresslevel: int = 1
    #: emit X-API-CREDITS-REMAINING on every API answer (Zoho: UNCERTAIN, maybe only >50 % used)
    credits_header: bool = True
    #: send ``Retry-After: N`` on 429 answers (Zoho documents none: UNCERTAIN; off by default)
    retry_after: int | None = None
    #: access tokens one refresh token may mint per 10 minutes (Zoho Accounts: 10); None = no
    #: limit. Over it the token endpoint answers HTTP 400 "Access Denied" (shape UNCERTAIN).
    token_rate_limit: int | None = None
    #: REST Get Records accepts at most this many ``fields``
    rest_max_fields: int = 50

    def record_count(self, module: str) -> int:
        return int(self.records.get(module, 0))

    def edition_of(self, org: OrgSpec) -> Edition:
        return self.editions[org.edition]
