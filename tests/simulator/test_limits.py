from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from simulator.clock import SimClock
from simulator.config import Edition
from simulator.errors import RetriableApiError
from simulator.limits import CreditLedger, DownloadRate, InFlight
from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller

LEADS: dict[str, Any] = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]}


def _edition(sim: SimServer, **changes: Any) -> None:
    editions = dict(sim.state.config.editions)
    base = editions["enterprise"]
    editions["enterprise"] = Edition(
        "enterprise",
        changes.get("credits_per_day", base.credits_per_day),
        changes.get("concurrency", base.concurrency),
        changes.get("active_bulk_jobs", base.active_bulk_jobs),
    )
    sim.state.configure(editions=editions)


def test_bulk_create_costs_50_and_credits_run_out(sim: SimServer, crm: ZohoCaller) -> None:
    _edition(sim, credits_per_day=120)
    first = crm.create(LEADS)
    assert first.headers["X-API-CREDITS-REMAINING"] == "70"
    assert crm.create(LEADS).headers["X-API-CREDITS-REMAINING"] == "20"
    refused = crm.create(LEADS)
    assert refused.status_code == 429
    assert refused.json() == {
        "status": "error",
        "code": "TOO_MANY_REQUESTS",
        "message": "too many requests. please try again after some time",
        "details": {},
    }
    assert sim.state.stats.snapshot()["jobs_created"] == {"us-enterprise/crm/Leads": 2}
    cheap = crm.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Leads"})
    assert cheap.status_code == 200
    assert cheap.headers["X-API-CREDITS-REMAINING"] == "19"


def test_credits_come_back_after_24_hours(sim: SimServer, crm: ZohoCaller) -> None:
    _edition(sim, credits_per_day=100)
    assert crm.create(LEADS).status_code == 201
    sim.state.configure(token_ttl=10 * 86_400)
    crm.token = crm.refresh()
    sim.state.clock.advance(12 * 3600)
    assert crm.create(LEADS).status_code == 201
    assert crm.create(LEADS).status_code == 429
    sim.state.clock.advance(12 * 3600 + 1)
    assert crm.create(LEADS).status_code == 201  # the first 50 left the rolling window
    assert crm.create(LEADS).status_code == 429


def test_credits_are_per_org(sim: SimServer, crm: ZohoCaller) -> None:
    _edition(sim, credits_per_day=50)
    assert crm.create(LEADS).status_code == 201
    eu = ZohoCaller(sim, "eu-professional")
    assert eu.create(LEADS).status_code == 201
    eu.close()
    assert crm.create(LEADS).status_code == 429


def test_credits_header_can_be_switched_off(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.configure(credits_header=False)
    response = crm.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Leads"})
    assert "X-API-CREDITS-REMAINING" not in response.headers


def test_concurrency_limit_gives_429(sim: SimServer, crm: ZohoCaller) -> None:
    _edition(sim, concurrency=1)
    # the second call must arrive while the first is held: a wide window, not a race
    sim.state.add_fault("delay", seconds=3.0, path="/crm/v8/org")
    slow: list[int] = []
    worker = threading.Thread(
        target=lambda: slow.append(crm.get(f"{crm.api}/crm/v8/org").status_code)
    )
    worker.start()
    deadline = time.monotonic() + 120  # a generous wait, not a timing assert
    while sim.state.in_flight.current("us-enterprise") == 0:
        assert time.monotonic() < deadline, "the slow call never started"
        time.sleep(0.01)
    other = ZohoCaller(sim)
    second = other.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Leads"})
    worker.join()
    assert second.status_code == 429
    assert slow == [200]
    assert other.get(f"{crm.api}/crm/v8/org").status_code == 200
    other.close()


def test_unfinished_bulk_jobs_are_limited_per_edition(sim: SimServer) -> None:
    free = ZohoCaller(sim, "in-free")
    sim.state.add_fault("slow_job", seconds=1000, count=-1)
    for _ in range(3):
        assert free.create(LEADS).status_code == 201
    assert free.create(LEADS).status_code == 429
    free.close()


def test_credit_ledger_rolls() -> None:
    clock = SimClock()
    ledger = CreditLedger(clock)
    assert ledger.charge("o", 60, 100) == 40
    with pytest.raises(RetriableApiError):
        ledger.charge("o", 41, 100)
    clock.advance(86_400)
    assert ledger.remaining("o", 100) == 100


def test_download_rate_and_in_flight() -> None:
    clock = SimClock()
    rate = DownloadRate(clock)
    for _ in range(3):
        rate.acquire("o", 3)
    with pytest.raises(RetriableApiError):
        rate.acquire("o", 3)
    rate.acquire("other", 3)
    clock.advance(60)
    rate.acquire("o", 3)
    flight = InFlight()
    flight.enter("o", 1)
    with pytest.raises(RetriableApiError):
        flight.enter("o", 1)
    flight.leave("o")
    flight.enter("o", 1)
    assert flight.current("o") == 1


def test_clock_only_moves_forward() -> None:
    with pytest.raises(ValueError, match="forward"):
        SimClock().advance(-1)
