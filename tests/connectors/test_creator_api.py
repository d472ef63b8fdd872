from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.creator_api import CREATOR_COSTS, CreatorAllowance, bulk_status
from connectors.credits import CallType
from connectors.errors import CreditBudgetExceededError


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("In-progress", "running"),
        ("IN PROGRESS", "running"),
        ("in_progress", "running"),
        ("Completed", "completed"),
        ("COMPLETED", "completed"),
        ("Failed", "failed"),
        ("FAILED", "failed"),
    ],
)
def test_status_spellings(raw: str, state: str) -> None:
    assert bulk_status(raw) == state


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bulk read status"):
        bulk_status("Paused")


def test_allowance_per_plan_and_users() -> None:
    assert CreatorAllowance("free", users=9).calls_per_day == 250
    assert CreatorAllowance("standard", users=2).calls_per_day == 500
    assert CreatorAllowance("professional", users=3).calls_per_day == 1_500
    assert CreatorAllowance("enterprise", users=2).calls_per_day == 2_000
    assert CreatorAllowance("zoho_one").calls_per_day == 1_000
    with pytest.raises(ValueError, match="unknown Creator plan"):
        CreatorAllowance("platinum")
    with pytest.raises(ValueError, match="at least one user"):
        CreatorAllowance("free", users=0)


def test_reset_is_midnight_in_the_account_time_zone() -> None:
    allowance = CreatorAllowance("free", time_zone="Asia/Kolkata")
    now = datetime(2026, 3, 1, 18, 29, tzinfo=UTC)  # 23:59 in India
    assert allowance.next_reset(now) == datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
    later = datetime(2026, 3, 1, 18, 31, tzinfo=UTC)  # 00:01 on 2 March in India
    assert allowance.next_reset(later) == datetime(2026, 3, 2, 18, 30, tzinfo=UTC)


def test_every_call_costs_one_and_the_meter_keeps_the_day() -> None:
    assert set(CREATOR_COSTS.values()) == {0, 1}
    assert CREATOR_COSTS[CallType.TOKEN_REFRESH] == 0
    assert CREATOR_COSTS[CallType.BULK_READ_CREATE] == 1
    meter = CreatorAllowance("standard", users=1).meter(used_today=249)
    meter.settle(meter.reserve(CallType.GET_RECORDS), charged=True)
    with pytest.raises(CreditBudgetExceededError):
        meter.reserve(CallType.BULK_READ_CREATE)
    assert CreatorAllowance("free").meter(used_today=400).budget == 0
