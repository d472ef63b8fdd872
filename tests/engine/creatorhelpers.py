"""Helpers of the Creator engine tests: the simulator's Creator state and a report export."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from engine.creator_export import CreatorExportOptions, export_creator_report
from engine.creator_source import CreatorSettings
from engine.lake import open_lake_table
from engine.runtime import Runtime
from engine.summary import ModuleSummary
from simulator.creator.state import CreatorState, creator_state
from simulator.testing import SimServer
from tests.engine.tablerows import assert_same_table

ORG = "us-enterprise"
APP, REPORT, FORM = "order-desk", "All_Orders", "Order"
TABLE = "creator_order_desk_All_Orders"
#: the simulated account (us-enterprise: owner jason18, enterprise plan, 3 users)
ACCOUNT = CreatorSettings(owner="jason18", plan="enterprise", users=3)


def sim_creator(sim: SimServer, **config: object) -> CreatorState:
    state = creator_state(sim.state)
    state.configure(job_seconds=(0.0, 0.0), **config)
    return state


def export(
    rt: Runtime,
    mode: str = "full",
    *,
    app: str = APP,
    report: str = REPORT,
    creator: CreatorSettings = ACCOUNT,
    bulk_max_records: int = 200_000,
    rest_max_records: int = 5_000,
) -> ModuleSummary:
    options = CreatorExportOptions(
        mode=mode,  # type: ignore[arg-type]
        overlap=timedelta(minutes=10),
        bulk_max_records=bulk_max_records,
        rest_max_records=rest_max_records,
    )
    return export_creator_report(rt, app, report, creator=creator, options=options)


def table(rt: Runtime, name: str = TABLE) -> pa.Table:
    return rt.warehouse.read_table(name)


def lake(rt: Runtime, name: str = TABLE) -> pa.Table:
    """The report's lake table ``{lake}/creator/{name}``, every row (deleted ones too)."""
    return open_lake_table(rt.settings, "creator", name).read().sort_by("id")


def assert_lake_equals_warehouse(rt: Runtime, name: str = TABLE) -> pa.Table:
    """One row per id in the lake, and the same rows, values and types as the warehouse."""
    with rt.load_lock:
        stored = table(rt, name).sort_by("id")
    return assert_same_table(lake(rt, name), stored)


def calls_today(creator: CreatorState) -> int:
    """Developer API calls the simulator counted today for the us-enterprise account."""
    from simulator.config import DEFAULT_ORGS

    org = DEFAULT_ORGS[0]
    return creator.daily.used(org.key, org.utc_offset_minutes)
