"""The export engine when a bulk read create's answer is lost (fault proxy on loopback).

The proxy forwards the first create to the simulator, which creates the job, then drops the
connection. Zoho documents no way to list bulk read jobs, so the lost job is an orphan: the
engine sends the create once more, loads every row exactly once, and reports every credit
the simulator charged (the orphan's 50 included).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from flows.extracts import DirectSteps, ExportOptions, export_module
from flows.runtime import Runtime, close_runtimes, runtime_for
from flows.settings import RunSettings
from flows.simulated import simulated_connection
from simulator.testing import SimServer
from tests.flows.conftest import FAST_DOWNLOADS, FAST_JOBS
from tests.support.faultproxy import FaultProxy, Rule

ORG = "us-enterprise"


@pytest.fixture
def proxied_rt(sim: SimServer, settings: RunSettings) -> Iterator[tuple[Runtime, FaultProxy]]:
    sim.state.configure(downloads_per_minute=FAST_DOWNLOADS, job_seconds=FAST_JOBS, per_page=800)
    with FaultProxy(sim.base_url) as proxy:
        yield runtime_for(simulated_connection(proxy.base_url), settings), proxy
        close_runtimes()


def test_a_lost_create_answer_costs_one_orphan_job_counted_and_no_duplicate_row(
    sim: SimServer, proxied_rt: tuple[Runtime, FaultProxy]
) -> None:
    rt, proxy = proxied_rt
    rule = proxy.add(Rule("POST", "*/crm/bulk/v8/read", "drop_after"))
    summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert rule.fired == 1
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    with rt.load_lock:
        ids = [str(i) for i in rt.warehouse.read_table("crm_Leads")["id"].to_pylist()]
    assert len(ids) == len(set(ids)) == summary.rows_loaded == len(store) == 2000
    stats = sim.state.stats.snapshot()
    assert summary.pages == 3
    assert stats["jobs_created"][f"{ORG}/crm/Leads"] == summary.pages + 1  # one orphan
    spent = stats["credits_used"][ORG]
    assert rt.ledger.credits_spent_since(rt.org, datetime(2000, 1, 1)) == spent
    # credits reported = credits spent (the run's one field-metadata call is not the module's)
    assert summary.credits == spent - 1
