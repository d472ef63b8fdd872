from __future__ import annotations

import threading

import pytest

from connectors.credits import CRM_COSTS, RECRUIT_COSTS, CallType, CreditMeter
from connectors.errors import CreditBudgetExceededError


def test_costs_follow_zoho() -> None:
    meter = CreditMeter()
    assert meter.cost_of(CallType.BULK_READ_CREATE) == 50
    assert meter.cost_of(CallType.BULK_WRITE_CREATE) == 500
    assert meter.cost_of(CallType.BULK_READ_STATUS) == 1
    assert meter.cost_of(CallType.GET_RECORDS_CVID) == 3
    assert meter.cost_of(CallType.TOKEN_REFRESH) == 0
    assert meter.cost_of(CallType.RECORD_WRITE, records=101) == 11
    assert RECRUIT_COSTS[CallType.GET_RECORDS] == 3
    assert CRM_COSTS[CallType.GET_RECORDS] == 1


def test_charged_and_refunded_calls() -> None:
    meter = CreditMeter(budget=100)
    r1 = meter.reserve(CallType.BULK_READ_CREATE)
    assert meter.report().budget_left == 50  # held while in flight
    meter.settle(r1, charged=True, server_remaining="4950")
    r2 = meter.reserve(CallType.BULK_READ_STATUS)
    meter.settle(r2, charged=False)  # e.g. a 429: Zoho did no work
    meter.settle(r2, charged=True)  # settling twice is a no-op
    report = meter.report()
    assert report.used == 50
    assert report.calls == {"bulk_read_create": 1}
    assert report.credits_by_call_type == {"bulk_read_create": 50}
    assert report.budget_left == 50
    assert report.server_remaining == 4950


def test_budget_raises_before_the_call_and_says_why() -> None:
    meter = CreditMeter(budget=60)
    meter.settle(meter.reserve(CallType.BULK_READ_CREATE), charged=True)
    with pytest.raises(CreditBudgetExceededError) as info:
        meter.reserve(CallType.BULK_READ_CREATE)
    assert info.value.needed == 50
    assert info.value.available == 10
    assert "needs 50 credits but only 10" in str(info.value)
    assert meter.used == 50


def test_estimate_reports_needed_vs_available() -> None:
    meter = CreditMeter(budget=1000)
    est = meter.estimate({CallType.BULK_READ_CREATE: 5, CallType.BULK_READ_STATUS: 20})
    assert (est.needed, est.available, est.affordable) == (270, 1000, True)
    assert est.describe() == "needs 270 credits, 1000 available: fits"
    meter.settle(meter.reserve(CallType.OTHER), charged=True, server_remaining="100")
    est = meter.estimate({CallType.BULK_WRITE_CREATE: 1})
    assert (est.needed, est.available, est.affordable) == (500, 100, False)
    assert CreditMeter().estimate({CallType.BULK_WRITE_CREATE: 3}).available is None


def test_reservations_are_thread_safe_and_never_overspend() -> None:
    meter = CreditMeter(budget=500)
    refused = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            try:
                meter.settle(meter.reserve(CallType.GET_RECORDS), charged=True)
            except CreditBudgetExceededError:
                with lock:
                    refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert meter.used == 500
    assert len(refused) == 16 * 50 - 500


def test_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        CreditMeter(budget=-1)


class Recorder:
    """An observer that writes down what it is told and refuses past ``limit`` credits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.events: list[tuple[str, str, int]] = []

    def reserve(self, call_type: CallType, credits: int) -> object:
        if self.held + credits > self.limit:
            raise CreditBudgetExceededError("over", needed=credits, available=self.limit)
        self.held += credits
        self.events.append(("reserve", call_type.value, credits))
        return (call_type, credits)

    def settle(self, ticket: object, *, charged: bool) -> None:
        assert isinstance(ticket, tuple)
        call_type, credits = ticket
        if not charged:
            self.held -= credits
        self.events.append(("charged" if charged else "refunded", call_type.value, credits))


def test_the_observer_is_told_of_each_call_and_may_refuse_it() -> None:
    observer = Recorder(limit=52)
    meter = CreditMeter(observer=observer)
    meter.settle(meter.reserve(CallType.BULK_READ_CREATE), charged=True)
    meter.settle(meter.reserve(CallType.BULK_READ_STATUS), charged=False)
    meter.settle(meter.reserve(CallType.TOKEN_REFRESH), charged=True)  # free: not observed
    with pytest.raises(CreditBudgetExceededError):
        meter.reserve(CallType.BULK_READ_CREATE)
    assert observer.events == [
        ("reserve", "bulk_read_create", 50),
        ("charged", "bulk_read_create", 50),
        ("reserve", "bulk_read_status", 1),
        ("refunded", "bulk_read_status", 1),
    ]
    report = meter.report()
    assert (report.used, report.budget_left) == (50, None)
    assert meter.available() is None  # nothing stays held for the refused call
