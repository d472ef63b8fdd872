"""The ledger as the observer of the credit meter: reservation, refusal, refund, attribution.

The unit tests drive a real ``CreditMeter`` over a real ledger (DuckDB file); the engine tests
run exports against the simulator and compare three counts that are kept apart: what the
ledger attributed to jobs, what the client's meter counted, what the simulator charged.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

import pytest

from cli.exit_codes import ExitCode, exit_code_for
from connectors.credits import CRM_COSTS, CallType, CreditMeter
from engine.budget import CreditBudget
from engine.credit_ledger import LedgerCreditObserver, charged_to, prepaid
from engine.errors import BudgetExceededError
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import JobRecord, JobState, Ledger
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import RunSettings, ZohoConnection
from simulator.testing import SimServer

ORG = "us-enterprise"
EVER = datetime(2000, 1, 1)


def page_jobs(ledger: Ledger, pages: int) -> list[JobRecord]:
    extract, _ = ledger.open_extract(
        org="o", product="crm", module="Leads", kind="full", query={}, method="bulk", reason="t"
    )
    return [ledger.plan_page(extract, page) for page in range(1, pages + 1)]


def metered(ledger: Ledger, budget: int | None) -> CreditMeter:
    observer = LedgerCreditObserver(ledger, "o", CreditBudget(ledger, "o", budget), "crm")
    return CreditMeter(CRM_COSTS, observer=observer)


def call(meter: CreditMeter, call_type: CallType, *, charged: bool = True) -> None:
    meter.settle(meter.reserve(call_type), charged=charged)


def test_charged_calls_go_to_the_job_in_scope_and_to_every_enclosing_scope(
    ledger: Ledger,
) -> None:
    page1, page2 = page_jobs(ledger, 2)
    meter = metered(ledger, None)
    with charged_to(page1.job_key, "bulk-read crm Leads page 1") as step:
        call(meter, CallType.BULK_READ_CREATE)
        call(meter, CallType.BULK_READ_STATUS)
        with charged_to(page2.job_key, "bulk-read crm Leads page 2") as ahead:
            call(meter, CallType.BULK_READ_CREATE)  # the next page's job, created ahead
        call(meter, CallType.BULK_READ_DOWNLOAD)
    call(meter, CallType.METADATA)  # outside any scope: the org's, no job's
    assert (step.credits, ahead.credits) == (102, 50)
    assert ledger.get_job(page1.job_key).credits == 52
    assert ledger.get_job(page2.job_key).credits == 50
    assert ledger.credits_spent_since("o", EVER) == meter.used == 103


def test_a_refunded_call_costs_nothing_and_is_charged_to_no_job(ledger: Ledger) -> None:
    (page1,) = page_jobs(ledger, 1)
    meter = metered(ledger, 100)
    with charged_to(page1.job_key, "bulk-read crm Leads page 1") as step:
        call(meter, CallType.BULK_READ_CREATE, charged=False)  # a 429: Zoho did no work
        call(meter, CallType.BULK_READ_CREATE)
    assert step.credits == ledger.get_job(page1.job_key).credits == 50
    assert ledger.credits_spent_since("o", EVER) == meter.used == 50
    assert CreditBudget(ledger, "o", 100).available() == 50  # the refund freed its credits


def test_the_budget_refuses_a_call_before_it_is_sent_and_names_it(ledger: Ledger) -> None:
    (page1,) = page_jobs(ledger, 1)
    meter = metered(ledger, 60)
    with charged_to(page1.job_key, "bulk-read crm Leads page 1"):
        call(meter, CallType.BULK_READ_CREATE)
        with pytest.raises(BudgetExceededError) as refused:
            meter.reserve(CallType.BULK_READ_CREATE)
    assert (refused.value.needed, refused.value.available) == (50, 10)
    assert "exceeded by bulk-read crm Leads page 1: bulk_read_create" in str(refused.value)
    report = meter.report()
    assert report.used == ledger.credits_spent_since("o", EVER) == 50
    assert report.calls == {"bulk_read_create": 1}  # nothing held for the refused call
    assert ledger.get_job(page1.job_key).credits == 50


def test_prepaid_creates_are_reserved_at_once_and_the_unused_ones_refunded(
    ledger: Ledger,
) -> None:
    budget = CreditBudget(ledger, "o", 1_200)
    meter = CreditMeter(CRM_COSTS, observer=LedgerCreditObserver(ledger, "o", budget, "crm"))

    def creates(calls: int) -> AbstractContextManager[None]:
        what = f"bulk-write crm Leads ({calls} jobs)"
        return prepaid(budget, ledger, "o", CallType.BULK_WRITE_CREATE, calls=calls,
                       credits_each=500, what=what)  # fmt: skip

    entered = False
    with pytest.raises(BudgetExceededError), creates(3):  # 1,500 do not fit: none reserved
        entered = True
    assert not entered
    assert ledger.credits_spent_since("o", EVER) == 0
    with creates(2):
        assert ledger.credits_spent_since("o", EVER) == 1_000
        call(meter, CallType.BULK_WRITE_UPLOAD)  # not prepaid: reserved on its own
        call(meter, CallType.BULK_WRITE_CREATE, charged=False)  # refused by Zoho: back
        call(meter, CallType.BULK_WRITE_CREATE)  # drawn from the prepaid two
        assert ledger.credits_spent_since("o", EVER) == 1_001
    # the second create was never sent: its 500 come back
    assert ledger.credits_spent_since("o", EVER) == meter.used == 501


# ---- over the simulator ------------------------------------------------------------------


def test_job_credits_equal_the_meter_and_the_simulator_over_bulk_pages_and_a_rest_delta(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.configure(per_page=800)
    full = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    ids = [str(i) for i in next(store.iter_chunks(["Modified_Time"]))["id"].to_pylist()]
    for record_id in ids[:250]:  # two REST pages of at most 200
        sim.state.update_record(ORG, "crm", "Leads", record_id, {"Company": "Kraków Labs"})
    delta = export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))

    assert (full.method, full.pages) == ("bulk", 3)
    assert (delta.kind, delta.method) == ("incremental", "rest")
    meter = rt.client("crm").meter.report()
    assert meter.calls["bulk_read_status"] >= 3  # every page was polled
    assert meter.calls["get_records"] >= 2
    charged = sim.state.stats.snapshot()["credits_used"][ORG]
    jobs = [j for e in rt.ledger.recent_extracts(10)
            for j in rt.ledger.jobs_for_extract(e.extract_id, live_only=False)]  # fmt: skip
    on_jobs = sum(j.credits for j in jobs)
    # a run's field metadata and the delta's deleted-records call are the org's, no page's
    by_type = meter.credits_by_call_type
    not_a_page = by_type["metadata"] + by_type["deleted_records"]
    assert on_jobs == full.credits + delta.credits == charged - not_a_page
    assert rt.ledger.credits_spent_since(rt.org, EVER) == meter.used == charged
    assert [j.credits for j in jobs if j.job_id and j.job_id.startswith("rest-")] == [
        meter.credits_by_call_type["get_records"]
    ]


def test_a_budget_that_runs_out_during_a_wait_stops_before_the_poll_and_resumes(
    sim: SimServer, connection: ZohoConnection, settings: RunSettings
) -> None:
    # 1 credit of field metadata + page 1's 50-credit create: nothing left for its first poll
    sim.state.configure(per_page=800)
    tight = runtime_for(connection, settings.model_copy(update={"credit_budget": 51}))
    with pytest.raises(BudgetExceededError) as stopped:
        export_module(tight, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(tight))
    message = str(stopped.value)
    assert "\n" not in message
    assert "exceeded by bulk-read crm Leads page 1: bulk_read_status" in message
    assert "loaded so far: 0 rows of Leads in 0 page(s); left to resume: page 1 onward" in message
    assert exit_code_for(stopped.value) is ExitCode.BUDGET
    stats = sim.state.stats.snapshot()
    assert stats["jobs_created"][f"{ORG}/crm/Leads"] == 1
    assert stats["credits_used"][ORG] == 51  # the refused poll was never sent
    (page1,) = tight.ledger.jobs_for_extract(tight.ledger.recent_extracts(1)[0].extract_id)
    assert page1.state is JobState.CREATED
    close_runtimes()

    relaxed = runtime_for(connection, settings)
    summary = export_module(
        relaxed, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(relaxed)
    )
    assert "resumed" in summary.reason
    assert summary.rows_loaded == 2000
    assert sim.state.stats.snapshot()["jobs_created"][f"{ORG}/crm/Leads"] == 3  # page 1 once
