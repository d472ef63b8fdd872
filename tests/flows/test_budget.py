from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flows.budget import CreditBudget
from flows.errors import BudgetExceededError
from flows.ledger import Ledger


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_run_that_does_not_fit_stops_before_spending(ledger: Ledger) -> None:
    clock = Clock(datetime(2025, 3, 1, 12, 0))
    budget = CreditBudget(ledger, "700000001", 120, clock=clock)
    budget.spend(50, "bulk-read Leads page 1")
    with pytest.raises(BudgetExceededError) as caught:
        budget.check_run(100, "export crm Leads, Contacts")
    err = caught.value
    assert (err.needed, err.available, err.budget) == (100, 70, 120)
    assert "needs 100 credits, 70 of 120 left" in str(err)
    # the 50 spent at 12:00 leave the rolling window at 12:00 the next day
    assert err.available_at == datetime(2025, 3, 2, 12, 0)
    assert budget.status().spent == 50  # nothing recorded by the refused check


def test_spend_is_refused_without_recording(ledger: Ledger) -> None:
    clock = Clock(datetime(2025, 3, 1, 12, 0))
    budget = CreditBudget(ledger, "o", 100, clock=clock)
    budget.spend(50, "a")
    budget.spend(50, "b")
    with pytest.raises(BudgetExceededError, match="needs 1 credits, 0 of 100 left"):
        budget.spend(1, "c")
    assert budget.status().spent == 100
    clock.now += timedelta(hours=24, seconds=1)
    assert budget.available() == 100
    budget.spend(1, "c")  # the run can resume later


def test_budget_is_shared_per_org_and_never_reachable_needs_say_so(ledger: Ledger) -> None:
    clock = Clock(datetime(2025, 3, 1))
    one = CreditBudget(ledger, "org-a", 100, clock=clock)
    other_flow = CreditBudget(ledger, "org-a", 100, clock=clock)
    elsewhere = CreditBudget(ledger, "org-b", 100, clock=clock)
    one.spend(80, "export")
    assert other_flow.available() == 20
    assert elsewhere.available() == 100
    with pytest.raises(BudgetExceededError) as caught:
        other_flow.check_run(500, "backfill")
    assert caught.value.available_at is None
    assert "free up" not in str(caught.value)


def test_unlimited_budget_still_logs_spend(ledger: Ledger) -> None:
    budget = CreditBudget(ledger, "o", None)
    budget.check_run(10**9, "anything")
    budget.spend(50, "x")
    assert budget.available() is None
    assert budget.status().spent == 50
