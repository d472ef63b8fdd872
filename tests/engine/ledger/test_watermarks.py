from __future__ import annotations

from datetime import datetime, timedelta

from engine.ledger import Ledger, Watermark


def test_watermark_never_moves_back(ledger: Ledger) -> None:
    assert ledger.get_watermark("o", "crm", "Leads") is None
    t1 = datetime(2025, 3, 1, 10, 0, 0)
    ledger.set_watermark("o", "crm", "Leads", Watermark(t1, ("2", "1")), "e1")
    assert ledger.get_watermark("o", "crm", "Leads") == Watermark(t1, ("1", "2"))
    ledger.set_watermark("o", "crm", "Leads", Watermark(t1 - timedelta(hours=1), ("3",)), "e2")
    assert ledger.get_watermark("o", "crm", "Leads") == Watermark(t1, ("1", "2"))
    ledger.set_watermark("o", "crm", "Leads", Watermark(t1 + timedelta(seconds=1), ("4",)), "e3")
    assert ledger.get_watermark("o", "crm", "Leads") == Watermark(t1 + timedelta(seconds=1), ("4",))
    assert [m for _, _, m, _ in ledger.all_watermarks()] == ["Leads"]
