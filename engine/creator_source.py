"""A Creator report as the engine sees it: its client, owner, base form, typed schema and
warehouse table, and the account's daily Developer API allowance kept in the job ledger.

Creator is a third product next to CRM and Recruit, with its own client
(``connectors.creator``): the pieces here turn a ``ZohoConnection`` plus ``CreatorSettings`` into
that client, and a report name into everything an export or a retention run needs.

- **Calls**: every Creator call is one Developer API call against a calendar-day allowance
  (plan x users) that resets at 00:00 in the account's time zone. The client's credit meter
  is observed by the ledger (``engine.credit_ledger``) with ``CreatorDailyCalls`` as the
  allowance: each call is reserved in the ``credit_spend`` table (org key ``{org}:creator``)
  *before* it is sent, over the window since that midnight, so the call that would go over
  is never made and every process and flow draws from the same count.
- **Schema**: the meta API does not say which form a report shows (``zoho-creator-api.md`` §4,
  UNCERTAIN), so one Get Records page is read and the form whose fields cover its keys is the
  report's (``form`` skips the guess). The same page tells lookups from drop-downs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from connectors.auth import OAuthCredentials
from connectors.bulk_read import PollPolicy
from connectors.creator import CreatorApplication, CreatorClient, CreatorField
from connectors.creator_api import CREATOR_COSTS, PLANS, CreatorAllowance
from connectors.credits import CreditMeter
from connectors.errors import CreditBudgetExceededError
from connectors.retry import RetryPolicy
from engine.clients import POLL_BACKOFF, endpoints_for
from engine.credit_ledger import LedgerCreditObserver
from engine.errors import UsageError
from engine.ledger import Ledger, to_naive_utc, utcnow
from engine.settings import RunSettings, ZohoConnection
from transforms.creator import SYSTEM_DATETIMES, CreatorSchema, creator_schema, found_lookups

PRODUCT = "creator"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def table_for(app: str, report: str) -> str:
    """``creator_{app}_{report}`` with every character outside ``[A-Za-z0-9_]`` as ``_``."""
    return _NOT_NAME.sub("_", f"creator_{app}_{report}")


def module_key(app: str, report: str) -> str:
    """The ledger's ``module`` of a report (extracts, jobs and watermarks are keyed by it)."""
    return f"{app}/{report}"


class CreatorSettings(BaseModel):
    """The Creator account: owner, plan and users (the daily allowance) and its time zone.

    Environment: ``ZOHO_CREATOR_OWNER``, ``ZOHO_CREATOR_PLAN`` (free standard professional
    enterprise zoho_one; default enterprise), ``ZOHO_CREATOR_USERS`` (default 1),
    ``ZOHO_CREATOR_TIME_ZONE`` (the super admin's IANA zone; default UTC),
    ``ZOHO_CREATOR_DAILY_CALLS`` (a lower cap of our own, e.g. to leave calls for others).
    """

    model_config = ConfigDict(frozen=True)

    owner: str | None = None
    plan: str = "enterprise"
    users: int = Field(default=1, ge=1)
    time_zone: str = "UTC"
    daily_calls: int | None = Field(default=None, ge=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> CreatorSettings:
        env = os.environ if env is None else env
        names = {
            "ZOHO_CREATOR_OWNER": "owner",
            "ZOHO_CREATOR_PLAN": "plan",
            "ZOHO_CREATOR_USERS": "users",
            "ZOHO_CREATOR_TIME_ZONE": "time_zone",
            "ZOHO_CREATOR_DAILY_CALLS": "daily_calls",
        }
        values: dict[str, object] = {key: env[name] for name, key in names.items() if env.get(name)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls.model_validate(values)
        if settings.plan not in PLANS:
            raise UsageError(f"ZOHO_CREATOR_PLAN {settings.plan!r}: choose one of {sorted(PLANS)}")
        try:
            ZoneInfo(settings.time_zone)
        except (KeyError, ValueError):
            raise UsageError(f"ZOHO_CREATOR_TIME_ZONE {settings.time_zone!r} is unknown") from None
        return settings

    @property
    def allowance(self) -> CreatorAllowance:
        return CreatorAllowance(self.plan, users=self.users, time_zone=self.time_zone)

    @property
    def calls_per_day(self) -> int:
        plan_calls = self.allowance.calls_per_day
        return plan_calls if self.daily_calls is None else min(plan_calls, self.daily_calls)


class CreatorDailyCalls:
    """The Creator account's allowance: today's calls, reserved in the ledger.

    The window is the calendar day in the account's time zone (``day_start``); the
    ``Allowance`` of the account's ``engine.credit_ledger.LedgerCreditObserver``.
    """

    def __init__(
        self,
        ledger: Ledger,
        account: str,
        settings: CreatorSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ledger = ledger
        self.account = account
        self.limit = settings.calls_per_day
        self.zone = ZoneInfo(settings.time_zone)
        self._clock = clock

    def day_start(self, now: datetime) -> datetime:
        """00:00 of ``now``'s day in the account's time zone, as naive UTC."""
        local = now.replace(tzinfo=UTC).astimezone(self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return to_naive_utc(midnight)

    def used_today(self) -> int:
        now = to_naive_utc(self._clock())
        return self.ledger.credits_spent_since(self.account, self.day_start(now))

    def spend(self, credits: int, what: str, job_key: str | None = None) -> None:
        """Reserve ``credits`` calls of today, or raise before the call is sent."""
        now = to_naive_utc(self._clock())
        ok, available = self.ledger.reserve_credits(
            self.account,
            credits,
            what,
            limit=self.limit,
            window=now - self.day_start(now),
            job_key=job_key,
            now=now,
        )
        if not ok:
            raise CreditBudgetExceededError(
                f"the Creator account's daily call cap of {self.limit} is reached "
                f"({self.limit - available} used since 00:00 {self.zone.key}); "
                f"the next call ({what}) was not made; re-run after midnight to resume",
                needed=credits,
                available=available,
            )


def creator_client(
    connection: ZohoConnection,
    ledger: Ledger,
    settings: CreatorSettings,
    run: RunSettings,
) -> CreatorClient:
    """A Creator client whose every call is counted against today's allowance."""
    credentials = OAuthCredentials(
        client_id=connection.client_id,  # type: ignore[arg-type]
        client_secret=connection.client_secret,
        refresh_token=connection.refresh_token,
    )
    retry = RetryPolicy(initial_wait=0.05, max_wait=1.0, jitter=0.05) if (
        connection.simulator_url
    ) else None  # fmt: skip
    account = f"{connection.org_id}:{PRODUCT}"
    observer = LedgerCreditObserver(
        ledger, account, CreatorDailyCalls(ledger, account, settings), PRODUCT
    )
    meter = CreditMeter(CREATOR_COSTS, observer=observer)
    return CreatorClient.connect(
        credentials,
        dc=connection.data_center,
        endpoints=endpoints_for(connection),
        meter=meter,
        retry=retry,
    )


def poll_policy(run: RunSettings) -> PollPolicy:
    return PollPolicy(
        initial=run.poll_interval_s, factor=POLL_BACKOFF, max_interval=run.poll_max_interval_s
    )


def find_application(client: CreatorClient, app: str, owner: str | None) -> CreatorApplication:
    """The application ``app`` (its owner from ``owner``, else the one app of that name)."""
    apps = [a for a in client.applications(owner) if a.link_name == app]
    if not apps:
        where = f"owner {owner!r}" if owner else "this account"
        raise UsageError(f"Creator app {app!r} not found for {where}")
    if len(apps) > 1:
        owners = ", ".join(sorted(a.owner for a in apps))
        raise UsageError(
            f"Creator app {app!r} exists for several owners ({owners}): pass --owner "
            "or set ZOHO_CREATOR_OWNER"
        )
    found = apps[0]
    return found if found.owner else CreatorApplication(
        found.link_name, found.name, owner or "", found.date_format, found.time_zone
    )  # fmt: skip


@dataclass(frozen=True)
class CreatorReportShape:
    """Everything an export needs to read a report and type its values."""

    application: CreatorApplication
    report: str
    form: str
    fields: tuple[CreatorField, ...]
    schema: CreatorSchema

    @property
    def owner(self) -> str:
        return self.application.owner

    @property
    def app(self) -> str:
        return self.application.link_name

    @property
    def table(self) -> str:
        return table_for(self.app, self.report)

    @property
    def module(self) -> str:
        return module_key(self.app, self.report)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.link_name for f in self.fields)


def describe_report(
    client: CreatorClient,
    application: CreatorApplication,
    report: str,
    *,
    form: str | None = None,
) -> CreatorReportShape:
    """The report's base form, fields and typed schema (a few meta calls + one page)."""
    owner, app = application.owner, application.link_name
    probe = next(
        iter(client.iter_records(owner, app, report, field_config="detail_view", max_records=200)),
        [],
    )
    keys = {k for record in probe for k in record} - {"ID", *SYSTEM_DATETIMES}
    forms = [form] if form else [str(f["link_name"]) for f in client.forms(owner, app)]
    if not form and not probe:
        raise UsageError(
            f"Creator report {app}/{report} has no records to recognise its form by: pass --form"
        )
    candidates: list[tuple[int, str, tuple[CreatorField, ...]]] = []
    for name in forms:
        fields = tuple(client.fields(owner, app, name))
        names = {f.link_name for f in fields}
        if form or keys <= names:
            candidates.append((len(names), name, fields))
            if keys == names:
                break
    if not candidates:
        raise UsageError(
            f"Creator report {app}/{report}: no form of {app} has the fields "
            f"{', '.join(sorted(keys))}; pass --form"
        )
    _, chosen, fields = min(candidates)
    schema = creator_schema(
        fields,
        date_format=application.date_format,
        time_zone=application.time_zone,
        lookups=found_lookups(probe),
    )
    return CreatorReportShape(application, report, chosen, fields, schema)
