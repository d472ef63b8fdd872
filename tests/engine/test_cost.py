"""REST or bulk by estimated credits: the arithmetic, and full exports against the simulator."""

from __future__ import annotations

from engine.cost import choose_full, rest_break_even
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import ExtractState
from engine.planning import Method
from engine.runtime import Runtime
from simulator.testing import SimServer

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
