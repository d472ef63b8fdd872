"""Zoho Creator API v2.1 as data: paths, scopes, limits, plans, call costs, data centres.

Facts: ``shared/docs/zoho-creator-api.md``. Creator is served by the same
``www.zohoapis.{tld}`` host as CRM (the token's ``api_domain``), under ``/creator/v2.1``; the
legacy ``creator.zoho.{tld}`` paths are not used (a legacy ``download_url`` is rewritten).

Accounting: every Creator call counts as one Developer API call against a *daily* allowance
(plan figure x users; Free 250 in all) that resets at 00:00 in the super admin's time zone.
Whether bulk calls count is UNCERTAIN: they are counted (the conservative choice for a
budget). ``CREATOR_COSTS`` plugs into the shared ``CreditMeter``; ``CreatorAllowance`` says how
much of today is left and when it resets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from connectors.credits import CallType, CreditMeter

API_ROOT = "/creator/v2.1"
APPLICATIONS_PATH = API_ROOT + "/meta/applications"
OWNER_APPLICATIONS_PATH = API_ROOT + "/meta/{owner}/applications"
REPORTS_PATH = API_ROOT + "/meta/{owner}/{app}/reports"
FORMS_PATH = API_ROOT + "/meta/{owner}/{app}/forms"
FIELDS_PATH = API_ROOT + "/meta/{owner}/{app}/form/{form}/fields"
RECORDS_PATH = API_ROOT + "/data/{owner}/{app}/report/{report}"
BULK_READ_PATH = API_ROOT + "/bulk/{owner}/{app}/report/{report}/read"
BULK_JOB_PATH = BULK_READ_PATH + "/{job_id}"
BULK_RESULT_PATH = BULK_JOB_PATH + "/result"
#: the legacy ``creator.zoho.*`` form some status answers give (``/api/bulk/v2.1/...``)
LEGACY_BULK_PREFIXES = ("/api/bulk/v2.1/", "/api/bulk/v2/")

SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "applications": "ZohoCreator.dashboard.READ",
        "reports": "ZohoCreator.meta.application.READ",
        "forms": "ZohoCreator.meta.application.READ",
        "fields": "ZohoCreator.meta.form.READ",
        "get_records": "ZohoCreator.report.READ",
        "delete_records": "ZohoCreator.report.DELETE",
        "bulk_create": "ZohoCreator.bulk.CREATE",
        "bulk_read": "ZohoCreator.bulk.READ",
    }
)

SUCCESS = 3000
RECORD_FAILED = 3001
NO_RECORDS = 3100
NO_FORMS = 3910
NO_REPORTS = 3930

PAGE_SIZES = (200, 500, 1000)
BULK_MIN_RECORDS = 100_000
BULK_MAX_RECORDS = 200_000
DELETE_BATCH = 200
#: a bulk read cursor lives 15 minutes: the next job is created before converting the CSV
BULK_CURSOR_SECONDS = 15 * 60

#: Data centres serving Creator on ``www.zohoapis.{tld}`` (OAS servers); ``uk`` is UNCERTAIN.
CREATOR_DATA_CENTRES = frozenset({"us", "eu", "in", "au", "jp", "cn", "ca", "sa"})

#: Every Creator call is one Developer API call; token refreshes go to the accounts server.
CREATOR_COSTS: Mapping[CallType, int] = MappingProxyType(
    {**{call: 1 for call in CallType}, CallType.TOKEN_REFRESH: 0}
)


@dataclass(frozen=True)
class Plan:
    name: str
    calls_per_user: int
    per_user: bool = True


PLANS: Mapping[str, Plan] = MappingProxyType(
    {
        "free": Plan("free", 250, per_user=False),
        "standard": Plan("standard", 250),
        "professional": Plan("professional", 500),
        "enterprise": Plan("enterprise", 1_000),
        "zoho_one": Plan("zoho_one", 1_000),
    }
)


@dataclass(frozen=True)
class CreatorAllowance:
    """The daily Developer API allowance of one Creator account."""

    plan: str
    users: int = 1
    #: the super admin's time zone (IANA name): the count resets at 00:00 there
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"unknown Creator plan {self.plan!r}; known: {sorted(PLANS)}")
        if self.users < 1:
            raise ValueError(f"a Creator account has at least one user, got {self.users}")
        ZoneInfo(self.time_zone)  # raises for an unknown zone

    @property
    def calls_per_day(self) -> int:
        plan = PLANS[self.plan]
        return plan.calls_per_user * (self.users if plan.per_user else 1)

    def next_reset(self, now: datetime) -> datetime:
        """The next 00:00 in the account's time zone after ``now`` (aware)."""
        local = now.astimezone(ZoneInfo(self.time_zone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + timedelta(days=1)

    def meter(self, used_today: int = 0) -> CreditMeter:
        """A credit meter whose budget is what is left of today's allowance."""
        if used_today < 0:
            raise ValueError(f"calls used today must be >= 0, got {used_today}")
        return CreditMeter(CREATOR_COSTS, budget=max(self.calls_per_day - used_today, 0))


def bulk_status(raw: object) -> str:
    """``running`` / ``completed`` / ``failed`` from any spelling Zoho uses (UNCERTAIN: the OAS
    says ``In-progress`` / ``Completed``, the page ``IN PROGRESS`` / ``COMPLETED`` / ``FAILED``);
    case, spaces, hyphens and underscores do not matter. Unknown spellings raise ValueError."""
    text = "".join(ch for ch in str(raw).lower() if ch.isalpha())
    states = {
        "inprogress": "running",
        "running": "running",
        "queued": "running",
        "created": "running",
        "completed": "completed",
        "complete": "completed",
        "success": "completed",
        "failed": "failed",
        "failure": "failed",
    }
    if text not in states:
        raise ValueError(f"unknown bulk read status {raw!r}")
    return states[text]
