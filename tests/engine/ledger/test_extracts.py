from __future__ import annotations

from datetime import datetime

from engine.ledger import ExtractState, Ledger
from tests.engine.ledger.leads import open_leads


def test_unfinished_extract_is_resumed_and_finished_one_is_not(ledger: Ledger) -> None:
    first, resumed = open_leads(ledger)
    assert not resumed
    again, resumed = open_leads(ledger)
    assert resumed
    assert again.extract_id == first.extract_id
    ledger.finish_extract(first.extract_id, ExtractState.LOADED)
    third, resumed = open_leads(ledger)
    assert not resumed
    assert third.extract_id != first.extract_id


def test_windows_are_separate_extracts(ledger: Ledger) -> None:
    w1 = (datetime(2025, 1, 1), datetime(2025, 2, 1))
    w2 = (datetime(2025, 2, 1), datetime(2025, 3, 1))
    a, _ = open_leads(ledger, kind="backfill", window=w1)
    b, _ = open_leads(ledger, kind="backfill", window=w2)
    assert a.extract_id != b.extract_id
    assert (
        ledger.find_extract(
            org="700000001", product="crm", module="Leads", kind="backfill", window=w1
        )
        == a
    )
