"""Creator's part of the simulator state: config, accounts, stores, jobs, cursors, limits.

One ``CreatorState`` per ``SimState``, kept in ``SimState.creator`` (so
``SimState.reset`` also resets Creator); ``creator_state(sim)`` gets or creates it. Tests call
its methods in-process (``configure``, ``revoke_scope``, ``lock_records``, ``update_record``).
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from simulator.clock import SimClock
from simulator.config import OrgSpec
from simulator.creator import errors
from simulator.creator.jobs import BulkCursor, BulkJob, RecordsCursor
from simulator.creator.limits import PLANS, DailyCalls, MinuteWindow
from simulator.creator.model import DEFAULT_APPS, CreatorApp, CreatorReport
from simulator.creator.store import FormStore
from simulator.creator.values import FormValues, form_base_id
from simulator.state import SimState

SCOPES: frozenset[str] = frozenset(
    f"ZohoCreator.{s}"
    for s in (
        "dashboard.READ",
        "meta.application.READ",
        "meta.form.READ",
        "report.READ",
        "report.DELETE",
        "bulk.CREATE",
        "bulk.READ",
    )
)


@dataclass(frozen=True)
class CreatorAccount:
    """The Creator account of a simulated org: workspace owner name, plan and users."""

    owner: str
    plan: str
    users: int

    @property
    def daily_allowance(self) -> int:
        return PLANS[self.plan].allowance(self.users)


DEFAULT_ACCOUNTS: Mapping[str, CreatorAccount] = MappingProxyType(
    {
        "us-enterprise": CreatorAccount("jason18", "enterprise", 3),
        "eu-professional": CreatorAccount("simgmbh", "professional", 2),
        "in-free": CreatorAccount("ananya.iyer", "free", 1),
    }
)

#: Status spellings: the OAS (default) and the page prose (``zoho-creator-api.md`` §3, UNCERTAIN)
OAS_STATUS = MappingProxyType({"running": "In-progress", "done": "Completed", "failed": "Failed"})
PROSE_STATUS = MappingProxyType({"running": "IN PROGRESS", "done": "COMPLETED", "failed": "FAILED"})


@dataclass(frozen=True)
class CreatorConfig:
    apps: tuple[CreatorApp, ...] = DEFAULT_APPS
    #: generated records per ``"{app}/{form}"``, over the apps' defaults
    records: Mapping[str, int] = field(default_factory=dict)
    accounts: Mapping[str, CreatorAccount] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    per_minute: int = 50
    bulk_creates_per_minute: int = 5  # per user (each simulated account has one API user)
    bulk_downloads_per_minute: int = 10
    job_seconds: tuple[float, float] = (0.05, 0.2)
    cursor_ttl: float = 900.0
    result_retention: float = 86_400.0
    #: Get Records cursor lifetime (UNCERTAIN at Zoho)
    records_cursor_ttl: float = 900.0
    status_spelling: Mapping[str, str] = field(default_factory=lambda: dict(OAS_STATUS))
    #: the status ``download_url`` in the legacy ``/api/bulk/v2.1/...`` form (Zoho's page sample)
    legacy_download_url: bool = False
    csv_lookup: str = "display"  # or "id"
    csv_multi_separator: str = ","
    #: HTTP status of 3100 on Get Records (UNCERTAIN; 404 likely)
    no_records_status: int = 404
    #: HTTP status of 1000 "criteria missing" on delete (OAS 404, v2.1 page 401: UNCERTAIN)
    missing_criteria_status: int = 404
    #: whether bulk read calls count against the daily allowance (UNCERTAIN)
    bulk_calls_count: bool = True
    chunk_size: int = 50_000

    def record_count(self, app: CreatorApp, form: str) -> int:
        return int(self.records.get(f"{app.link_name}/{form}", app.records.get(form, 0)))


class CreatorState:
    """Everything Creator-specific of one simulator (thread-safe)."""

    def __init__(self, sim: SimState, config: CreatorConfig | None = None) -> None:
        self.sim = sim
        self.config = config or CreatorConfig()
        self._lock = threading.RLock()
        self._stores: dict[tuple[str, str, str], FormStore] = {}
        self.jobs: dict[str, BulkJob] = {}
        self.bulk_cursors: dict[str, BulkCursor] = {}
        self.record_cursors: dict[str, RecordsCursor] = {}
        self.daily = DailyCalls(sim.clock)
        self.minute = MinuteWindow(sim.clock)
        self._granted: dict[str, set[str]] = {}
        self._job_counter = 0

    @property
    def clock(self) -> SimClock:
        return self.sim.clock

    def configure(self, **changes: Any) -> CreatorConfig:
        """Change config fields; changing apps, records or chunk_size rebuilds the stores."""
        with self._lock:
            self.config = replace(self.config, **changes)
            if {"apps", "records", "chunk_size"} & set(changes):
                self._stores.clear()
            return self.config

    # -- accounts, apps, scopes ---------------------------------------------------------
    def account(self, org: OrgSpec) -> CreatorAccount:
        return self.config.accounts[org.key]

    def app(self, org: OrgSpec, owner: str, app_name: str) -> CreatorApp:
        if owner != self.account(org).owner:
            raise errors.no_owner()
        app = next((a for a in self.config.apps if a.link_name == app_name), None)
        if app is None:
            raise errors.no_app()
        return app

    def report(
        self, org: OrgSpec, owner: str, app_name: str, report: str
    ) -> tuple[CreatorApp, CreatorReport]:
        app = self.app(org, owner, app_name)
        found = app.report(report)
        if found is None:
            raise errors.no_report()
        return app, found

    def granted(self, org_key: str) -> set[str]:
        with self._lock:
            return set(self._granted.get(org_key, SCOPES))

    def revoke_scope(self, org_key: str, scope: str) -> None:
        """The org's tokens lose ``scope`` (calls needing it answer 401 / 2945)."""
        with self._lock:
            self._granted[org_key] = self.granted(org_key) - {scope}

    # -- records ------------------------------------------------------------------------
    def store(self, org_key: str, app: CreatorApp, form_name: str) -> FormStore:
        with self._lock:
            key = (org_key, app.link_name, form_name)
            if key in self._stores:
                return self._stores[key]
            org = self.sim.org(org_key)
            form = app.form(form_name)
            if form is None:
                raise errors.no_form()
            parents = {f.lookup_form for f in form.fields if f.lookup_form}
            counts = {p: self.config.record_count(app, p) for p in parents}
            parent_forms = [f for f in app.forms if f.link_name in parents]
            bases = {f.link_name: form_base_id(org.id_prefix, f) for f in parent_forms}
            values = FormValues(
                self.sim.config.seed,
                org_key,
                app,
                form,
                form_base_id(org.id_prefix, form),
                counts,
                bases,
            )
            store = FormStore(
                values,
                self.config.record_count(app, form_name),
                self.clock,
                lambda parent: self.store(org_key, app, parent),
                self.config.chunk_size,
            )
            self._stores[key] = store
            return store

    def _app_named(self, name: str) -> CreatorApp:
        app = next((a for a in self.config.apps if a.link_name == name), None)
        if app is None:
            raise KeyError(f"no simulated Creator app {name!r}")
        return app

    def form_store(self, org_key: str, app: str, form: str) -> FormStore:
        return self.store(org_key, self._app_named(app), form)

    def update_record(
        self, org_key: str, app: str, form: str, record_id: str, values: dict[str, str | None]
    ) -> None:
        self.form_store(org_key, app, form).update(record_id, values)

    def insert_record(
        self, org_key: str, app: str, form: str, values: dict[str, str | None]
    ) -> str:
        return self.form_store(org_key, app, form).insert(values)

    def lock_records(self, org_key: str, app: str, form: str, record_ids: list[str]) -> None:
        """These records fail to delete with 3001 (e.g. held by an approval)."""
        self.form_store(org_key, app, form).locked.update(record_ids)

    # -- jobs ---------------------------------------------------------------------------
    def new_job_id(self, org: OrgSpec) -> str:
        with self._lock:
            self._job_counter += 1
            return str(org.id_prefix * 10**12 + 18_003_000 + self._job_counter)

    def job_seconds(self, job_id: str) -> float:
        low, high = self.config.job_seconds
        return random.Random(f"{self.sim.config.seed}/{job_id}").uniform(low, high)

    def mint_bulk_cursor(self, cursor: BulkCursor) -> str:
        token = secrets.token_hex(24)
        with self._lock:
            self.bulk_cursors[token] = cursor
        return token


def creator_state(sim: SimState) -> CreatorState:
    """The Creator state of ``sim`` (created on first use, dropped by ``sim.reset``)."""
    with sim._lock:  # the simulator's own lock guards its per-state parts
        if sim.creator is None:
            sim.creator = CreatorState(sim)
        return sim.creator
