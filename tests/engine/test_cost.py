"""REST or bulk by estimated credits: the arithmetic, and full exports against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.backfill import backfill_window
from engine.cost import choose_full, rest_break_even
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import ExtractState
from engine.planning import Method, Window, backfill_windows
from engine.runtime import Runtime
from simulator.testing import SimServer
from tests.flows.cli_process import sim_ids_modified_between

ORG = "us-enterprise"
FULL = ExportOptions(mode="full", capture_deletes=False)


def test_rest_pays_off_up_to_one_bulk_jobs_credits() -> None:
    assert rest_break_even("crm") == 11_400  # 57 credits a bulk page = 57 REST pages of 200
    assert rest_break_even("recruit") == 3_800  # Recruit's Get Records costs 3 a page


def test_full_export_choice_by_size() -> None:
    small = choose_full("crm", 300, rest_supported=True)
    assert small.method is Method.REST
    assert "REST 2 credits <= bulk 57" in small.reason
    big = choose_full("crm", 1_000_000, rest_supported=True)
    assert big.method is Method.BULK
    assert "over the REST limit of 11400" in big.reason
    assert choose_full("crm", None, rest_supported=True).method is Method.BULK  # size unknown
    assert choose_full("crm", 300, rest_supported=False).method is Method.BULK
    assert choose_full("crm", 300, rest_supported=True, rest_max_records=100).method is (
        Method.BULK
    )


def test_full_exports_read_a_small_module_by_rest_and_a_big_one_by_bulk(
    sim: SimServer, rt: Runtime
) -> None:
    records = dict(sim.state.config.records, Leads=12_000, Accounts=5_000)
    sim.state.configure(records=records)
    for module in ("Accounts", "Leads"):  # first exports: size unknown, bulk
        first = export_module(rt, "crm", module, FULL, DirectSteps(rt))
        assert first.method == "bulk"
        assert "size unknown" in first.reason

    small = export_module(rt, "crm", "Accounts", FULL, DirectSteps(rt))
    assert small.method == "rest"
    assert "REST 25 credits <= bulk 57" in small.reason
    assert small.bulk_jobs_created == 0
    assert small.credits == 25  # 5,000 records past REST's 2,000 with page tokens
    assert small.rows_loaded == 5_000
    big = export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
    assert big.method == "bulk"
    assert "over the REST limit" in big.reason or "windows" in big.reason

    for module, method in (("Accounts", "rest"), ("Leads", "bulk")):
        extract = rt.ledger.find_extract(
            org=rt.org, product="crm", module=module, kind="full", state=ExtractState.LOADED
        )
        assert extract is not None
        assert extract.method == method
        assert extract.reason  # the ledger keeps why
    with rt.load_lock:
        ids = rt.warehouse.read_table("crm_Accounts")["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 5_000


def test_backfill_windows_pick_rest_when_it_costs_less_and_keep_only_their_window(
    sim: SimServer, rt: Runtime
) -> None:
    records = dict(sim.state.config.records, Deals=400)
    sim.state.configure(per_page=120, records=records)
    export_module(rt, "crm", "Deals", FULL, DirectSteps(rt))  # the spread REST is sized from
    start, end = datetime(2024, 1, 1), datetime(2026, 1, 1)
    results = [
        backfill_window(rt, "crm", "Deals", w, DirectSteps(rt))
        for w in backfill_windows(start, end, timedelta(days=365))
    ]
    assert {r.method for r in results} == {"rest"}
    assert all("REST" in r.reason and "<= bulk" in r.reason for r in results)
    assert sum(r.bulk_jobs_created for r in results) == 0
    # REST reads what changed since each window's start: at most 2 pages of 200 a window;
    # bulk would cost 57 credits a job (and with 120-record pages, several jobs a window)
    assert sum(r.credits for r in results) <= 2 * len(results)
    in_range = sim_ids_modified_between(
        sim, ORG, "Deals", start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    )
    assert sum(r.rows_loaded for r in results) == len(in_range)  # each only its own window
    for result in results:
        (extract_id,) = result.extract_ids
        extract = rt.ledger.get_extract(extract_id)
        assert extract.method == "rest"
        assert extract.reason == result.reason


def test_a_backfill_window_of_a_big_module_stays_bulk(sim: SimServer, rt: Runtime) -> None:
    records = dict(sim.state.config.records, Leads=12_000)
    sim.state.configure(records=records)
    export_module(rt, "crm", "Leads", FULL, DirectSteps(rt))
    window = Window(datetime(2022, 1, 1), datetime(2027, 1, 1))
    result = backfill_window(rt, "crm", "Leads", window, DirectSteps(rt))
    assert result.method == "bulk"
    assert "too many for REST" in result.reason
    assert result.bulk_jobs_created == 1
    assert result.rows_loaded == 12_000
