from __future__ import annotations

from datetime import datetime

import pytest

from connectors.creator_api import CREATOR_COSTS
from connectors.credits import CallType, CreditMeter
from connectors.errors import CreditBudgetExceededError
from engine.creator_source import CreatorDailyCalls, CreatorSettings
from engine.credit_ledger import LedgerCreditObserver
from engine.ledger import Ledger


def test_the_daily_cap_counts_the_accounts_calendar_day_and_refuses_the_call_over_it(
    ledger: Ledger,
) -> None:
    now = datetime(2026, 3, 1, 18, 0)  # naive UTC: 23:30 in Kolkata, the account's zone
    account = CreatorSettings(plan="free", daily_calls=3, time_zone="Asia/Kolkata")
    calls = CreatorDailyCalls(ledger, "o:creator", account, clock=lambda: now)
    meter = CreditMeter(
        CREATOR_COSTS, observer=LedgerCreditObserver(ledger, "o:creator", calls, "creator")
    )
    for _ in range(3):
        meter.settle(meter.reserve(CallType.GET_RECORDS), charged=True)
    with pytest.raises(CreditBudgetExceededError, match="daily call cap of 3 is reached"):
        meter.reserve(CallType.GET_RECORDS)
    assert calls.used_today() == meter.used == 3
    now = datetime(2026, 3, 1, 18, 31)  # 00:01 the next day in Kolkata: a new day's calls
    assert calls.used_today() == 0
    meter.settle(meter.reserve(CallType.GET_RECORDS), charged=True)
    assert calls.used_today() == 1
