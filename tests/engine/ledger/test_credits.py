from __future__ import annotations

from datetime import datetime, timedelta

from engine.ledger import Ledger


def test_reserve_credits_is_all_or_nothing(ledger: Ledger) -> None:
    now = datetime(2025, 3, 1, 12, 0)
    window = timedelta(hours=24)
    assert ledger.reserve_credits("o", 60, "a", limit=100, window=window, now=now) == (True, 100)
    assert ledger.reserve_credits("o", 50, "b", limit=100, window=window, now=now) == (False, 40)
    assert ledger.credits_spent_since("o", now - window) == 60
    later = now + window + timedelta(seconds=1)
    assert ledger.reserve_credits("o", 100, "c", limit=100, window=window, now=later) == (
        True,
        100,
    )
