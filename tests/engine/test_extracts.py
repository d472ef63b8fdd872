"""The export / backfill engine against the simulator, as plain functions (no Prefect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.backfill import backfill_window
from engine.errors import BudgetExceededError, PageFailedError
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import ExtractState, JobState
from engine.planning import Window, backfill_windows
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import RunSettings, ZohoConnection
from simulator.testing import SimServer
from tests.engine.tablerows import live_rows
from tests.flows.cli_process import (
    ledger_jobs,
    run_cli,
    sim_ids_modified_between,
    warehouse_ids,
)

ORG = "us-enterprise"


def jobs_created(sim: SimServer, module: str) -> int:
    return int(sim.state.stats.snapshot()["jobs_created"].get(f"{ORG}/crm/{module}", 0))


def test_full_export_walks_every_page_and_sets_the_watermark(sim: SimServer, rt: Runtime) -> None:
    sim.state.configure(per_page=800)
    summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert (summary.kind, summary.method, summary.pages) == ("full", "bulk", 3)
    assert summary.rows_loaded == len(sim.state.store(ORG, "crm", "Leads")) == 2000
    assert summary.bulk_jobs_created == jobs_created(sim, "Leads") == 3
    wm = rt.ledger.get_watermark(rt.org, "crm", "Leads")
    assert wm is not None
    newest = max(r["Modified_Time"] for r in live_rows(rt, "crm_Leads"))
    assert wm.modified_time == newest.astimezone(UTC).replace(tzinfo=None)  # type: ignore[union-attr]
    assert len(wm.ids) >= 1


def test_incremental_brings_the_warehouse_to_the_simulators_state(
    sim: SimServer, rt: Runtime, connection: ZohoConnection, tmp_path: Path
) -> None:
    sim.state.configure(per_page=900)
    for module in ("Leads", "Contacts"):
        export_module(rt, "crm", module, ExportOptions(mode="full"), DirectSteps(rt))
    state = sim.state
    for module in ("Leads", "Contacts"):
        store = state.store(ORG, "crm", module)
        ids = [str(i) for i in next(store.iter_chunks(["Modified_Time"]))["id"].to_pylist()]
        for record_id in ids[10:40]:
            state.update_record(
                ORG, "crm", module, record_id, {"Description": 'new, "quoted"\nline'}
            )
        for record_id in ids[100:107]:
            state.delete_record(ORG, "crm", module, record_id)
        state.insert_record(ORG, "crm", module, {"Last_Name": "Neu", "First_Name": "Zoë"})
    # Leads: a small delta through REST; Contacts: the REST cap forces a switch to bulk.
    leads = export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
    contacts = export_module(
        rt, "crm", "Contacts", ExportOptions(rest_max_records=5), DirectSteps(rt)
    )
    assert (leads.kind, leads.method) == ("incremental", "rest")
    assert (contacts.kind, contacts.method) == ("incremental", "bulk")
    assert "switching to a bulk read" in contacts.reason
    assert leads.deleted == contacts.deleted == 7
    # A clean full export of the simulator's current state, into another warehouse.
    clean_settings = RunSettings(
        data_dir=str(tmp_path / "clean"),
        poll_interval_s=0.05,
        poll_max_interval_s=0.2,  # type: ignore[operator]
    )
    clean = runtime_for(connection, clean_settings)
    for module in ("Leads", "Contacts"):
        export_module(clean, "crm", module, ExportOptions(mode="full"), DirectSteps(clean))
        ours, theirs = live_rows(rt, f"crm_{module}"), live_rows(clean, f"crm_{module}")
        assert len(ours) == len(state.store(ORG, "crm", module))
        assert ours == theirs


@pytest.mark.parametrize("kind", ["corrupt_zip", "truncate_zip"])
def test_a_damaged_download_is_downloaded_again_and_loaded_once(
    sim: SimServer, rt: Runtime, kind: str
) -> None:
    # Downloads check the zip's structure only; a bad CRC is found by the load (which reads
    # every byte): nothing of the page is loaded and the page is downloaded again.
    sim.state.configure(per_page=800)
    sim.state.add_fault(kind, path="*/read/*/result", count=1)
    summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert summary.rows_loaded == len(sim.state.store(ORG, "crm", "Leads")) == 2000
    assert len({r["id"] for r in live_rows(rt, "crm_Leads")}) == 2000  # one row per id
    downloads = sim.state.stats.snapshot()["downloads"]
    assert sorted(downloads.values()) == [1, 1, 2]  # one page twice, no job created again
    assert summary.bulk_jobs_created == jobs_created(sim, "Leads") == 3


def test_backfill_splits_big_windows_and_rerun_is_a_noop(sim: SimServer, rt: Runtime) -> None:
    records = dict(sim.state.config.records, Deals=400)
    sim.state.configure(per_page=120, records=records)
    start, end = datetime(2024, 1, 1), datetime(2026, 1, 1)
    windows = backfill_windows(start, end, timedelta(days=365))
    results = [backfill_window(rt, "crm", "Deals", w, DirectSteps(rt)) for w in windows]
    assert any(r.split_into for r in results)
    in_range = [
        r
        for r in live_rows(rt, "crm_Deals")
        if start.replace(tzinfo=UTC) <= r["Modified_Time"] < end.replace(tzinfo=UTC)  # type: ignore[operator]
    ]
    assert sum(r.rows_loaded for r in results) == len(in_range) == len(live_rows(rt, "crm_Deals"))
    jobs = jobs_created(sim, "Deals")
    again = [backfill_window(rt, "crm", "Deals", w, DirectSteps(rt)) for w in windows]
    assert all(r.skipped or r.split_into for r in again)
    assert sum(r.rows_loaded for r in again) == 0
    assert jobs_created(sim, "Deals") == jobs


def test_budget_stops_before_the_job_and_the_run_resumes_later(
    sim: SimServer, connection: ZohoConnection, settings: RunSettings
) -> None:
    sim.state.configure(per_page=800)
    tight = runtime_for(connection, settings.model_copy(update={"credit_budget": 70}))
    with pytest.raises(BudgetExceededError) as caught:
        export_module(tight, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(tight))
    assert caught.value.needed == 50
    assert caught.value.available < 50
    assert jobs_created(sim, "Leads") == 1  # page 2 was never created
    close_runtimes()
    relaxed = runtime_for(connection, settings)
    summary = export_module(
        relaxed, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(relaxed)
    )
    assert "resumed" in summary.reason
    assert summary.rows_loaded == 2000
    assert jobs_created(sim, "Leads") == 3  # page 1 reused, pages 2 and 3 created once


def test_job_past_its_lifetime_is_replanned_not_crashed_on(sim: SimServer, rt: Runtime) -> None:
    sim.state.configure(per_page=5000)
    extract, _ = rt.ledger.open_extract(
        org=rt.org,
        product="crm",
        module="Accounts",
        kind="full",
        query={"module": "Accounts", "fields": [], "page": 1},
        method="bulk",
        reason="test",
    )
    job = rt.ledger.plan_page(extract, 1)
    rt.ledger.mark_created(job.job_key, "4876876000009999999", credits=50)
    two_days_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    with rt.ledger.engine.begin() as conn:
        conn.execute(
            sa.update(rt.ledger.jobs)
            .where(rt.ledger.jobs.c.job_key == job.job_key)
            .values(created_at=two_days_ago)
        )
    steps = DirectSteps(rt)
    outcome = steps.page(extract, rt.ledger.get_job(job.job_key), False)
    assert outcome.created_job
    assert outcome.job.state is JobState.LOADED
    assert outcome.job.job_key.endswith(".r1")
    assert rt.ledger.get_job(job.job_key).state is JobState.EXPIRED
    assert outcome.job.rows_loaded == len(sim.state.store(ORG, "crm", "Accounts"))


def test_window_label_is_stable() -> None:
    w = Window(datetime(2025, 1, 1), datetime(2025, 2, 1))
    assert w.label() == "2025-01-01T00:00:00..2025-02-01T00:00:00"


def test_expired_page_token_replans_the_extract_from_page_one(
    sim: SimServer, connection: ZohoConnection, settings: RunSettings
) -> None:
    sim.state.configure(per_page=800)
    tight = runtime_for(connection, settings.model_copy(update={"credit_budget": 70}))
    with pytest.raises(BudgetExceededError):
        export_module(tight, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(tight))
    first = tight.ledger.recent_extracts(1)[0]
    page1, page2 = tight.ledger.jobs_for_extract(first.extract_id)
    assert page2.state is JobState.PLANNED
    assert page2.page_token
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=25)
    with tight.ledger.engine.begin() as conn:
        conn.execute(
            sa.update(tight.ledger.jobs)
            .where(tight.ledger.jobs.c.job_key == page1.job_key)
            .values(completed_at=stale)
        )
    close_runtimes()
    relaxed = runtime_for(connection, settings)
    summary = export_module(
        relaxed, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(relaxed)
    )
    assert summary.rows_loaded == 2000
    assert "re-planned: page token older than 24 h" in relaxed.ledger.recent_extracts(1)[0].reason
    assert relaxed.ledger.get_extract(first.extract_id).state == "failed"
    assert relaxed.ledger.get_job(page2.job_key).state is JobState.EXPIRED
    assert jobs_created(sim, "Leads") == 4  # page 1 once more, then pages 2 and 3


def test_recruit_rest_delta_is_charged_at_three_credits_a_page(sim: SimServer, rt: Runtime) -> None:
    # Recruit's Get Records costs 3 credits a page (CRM: 1): the module summary, the job's
    # ledger row and the org's daily spend must all say so, or the budget under-counts.
    export_module(rt, "recruit", "Candidates", ExportOptions(mode="full"), DirectSteps(rt))
    store = sim.state.store(ORG, "recruit", "Candidates")
    ids = [str(i) for i in next(store.iter_chunks(["Modified_Time"]))["id"].to_pylist()]
    for record_id in ids[:250]:  # two REST pages of at most 200
        sim.state.update_record(
            ORG, "recruit", "Candidates", record_id, {"Current_Employer": "Kraków Labs"}
        )
    spent_before = rt.ledger.credits_spent_since(rt.org, datetime(2000, 1, 1))

    summary = export_module(rt, "recruit", "Candidates", ExportOptions(), DirectSteps(rt))

    assert (summary.kind, summary.method) == ("incremental", "rest")
    rest_jobs = [j for j in rt.ledger.recent_jobs() if (j.job_id or "").startswith("rest-")]
    assert len(rest_jobs) == 1
    pages = -(-summary.rows_loaded // 200)
    assert pages >= 2
    assert rest_jobs[0].credits == 3 * pages
    assert summary.credits >= 3 * pages
    spent = rt.ledger.credits_spent_since(rt.org, datetime(2000, 1, 1)) - spent_before
    assert spent >= 3 * pages


# ---- a bulk job that ends FAILURE (issue 19, item 1) ---------------------------------------

WINDOW_2025 = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
BACKFILL_2025 = ("backfill", "Deals", "--start", "2025-01-01", "--end", "2026-01-01")


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [(*BACKFILL_2025, "--window-days", "400"), ("export", "Deals", "--full")],
    ids=["backfill", "full-export"],
)
def test_a_failed_bulk_job_is_read_again_by_a_new_job_on_the_re_run(
    prefect_api: str, sim: SimServer, tmp_path: Path, command: tuple[str, ...]
) -> None:
    sim.state.configure(per_page=400, downloads_per_minute=1000, job_seconds=(0.02, 0.05))
    sim.state.add_fault("job_failure", path="/crm/Deals")  # the first Deals job fails
    if command[0] == "backfill":
        expected = sim_ids_modified_between(sim, ORG, "Deals", *WINDOW_2025)
        assert 0 < len(expected) <= 400  # the window is one page
    else:
        everything = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        expected = sim_ids_modified_between(sim, ORG, "Deals", *everything)
        assert len(expected) > 800  # three pages: the failed page 1, then 2 and 3

    failed = run_cli(sim, prefect_api, tmp_path, *command)
    assert failed.returncode == 1, failed.stderr[-2000:]
    reason = "Internal server error occurred."  # Zoho's result.error_message.message
    assert reason in failed.stderr.splitlines()[-1]
    assert "re-run" in failed.stderr.splitlines()[-1]

    rerun = run_cli(sim, prefect_api, tmp_path, *command)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    ids = warehouse_ids(tmp_path, "crm_Deals")
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected

    jobs = ledger_jobs(tmp_path, "Deals")
    assert [(page, state) for page, state, _, _ in jobs][:2] == [(1, "failed"), (1, "loaded")]
    (_, _, failed_job, error), (_, _, new_job, _) = jobs[:2]
    assert failed_job != new_job
    assert error is not None
    assert reason in error
    assert all(state == "loaded" for _, state, _, _ in jobs[1:])
    assert jobs_created(sim, "Deals") == len(jobs)  # one new job for the failed page, no more

    if command[0] == "backfill":
        again = run_cli(sim, prefect_api, tmp_path, *command)
        assert again.returncode == 0
        assert "already loaded" in again.stdout
        assert jobs_created(sim, "Deals") == len(jobs)


def test_a_failed_page_fails_the_run_and_the_next_run_reads_it_with_a_new_job(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.configure(per_page=800)
    sim.state.add_fault("job_failure", path="/crm/Leads")
    with pytest.raises(PageFailedError, match=r"Leads page 1: .*Internal server error occurred"):
        export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    running = rt.ledger.find_extract(
        org=rt.org, product="crm", module="Leads", kind="full", state=ExtractState.RUNNING
    )
    assert running is not None  # not closed as loaded

    summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert summary.rows_loaded == len(live_rows(rt, "crm_Leads")) == 2000
    jobs = rt.ledger.jobs_for_extract(running.extract_id, live_only=False)
    assert [(j.page, j.state) for j in jobs] == [
        (1, JobState.FAILED),
        (1, JobState.LOADED),
        (2, JobState.LOADED),
        (3, JobState.LOADED),
    ]
    assert jobs_created(sim, "Leads") == 4
