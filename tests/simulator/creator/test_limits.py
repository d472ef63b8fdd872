from __future__ import annotations

from simulator.creator.limits import PLANS, DailyCalls
from simulator.creator.state import CreatorAccount
from simulator.testing import SimServer
from tests.simulator.creator.conftest import CreatorCaller


def test_daily_allowance_by_plan() -> None:
    assert CreatorAccount("x", "free", 5).daily_allowance == 250
    assert CreatorAccount("x", "standard", 2).daily_allowance == 500
    assert CreatorAccount("x", "professional", 2).daily_allowance == 1_000
    assert CreatorAccount("x", "enterprise", 3).daily_allowance == 3_000
    assert PLANS["zoho_one"].allowance(1) == 1_000


def test_daily_cap_is_4000_with_http_200_until_local_midnight(sim: SimServer) -> None:
    caller = CreatorCaller(sim, "in-free")  # Free: 250 a day, India (+05:30)
    caller.creator.configure(per_minute=10_000)
    url = f"{caller.root}/meta/applications"
    # start at 23:00 in India so the test stays in one local day until it moves the clock
    local = (sim.state.clock.now() + 330 * 60) % 86_400
    caller.advance((23 * 3600 - local) % 86_400)
    for _ in range(249):  # spend most of the day in-process (HTTP calls are slow here)
        assert caller.creator.daily.take("in-free", 330, 250)
    codes = [caller.get(url).json()["code"] for _ in range(2)]
    assert codes == [3000, 4000]
    capped = caller.get(url)
    assert (capped.status_code, capped.json()["code"]) == (200, 4000)
    caller.advance(2 * 3600)  # a rolling 24 h has not passed, but midnight has
    assert caller.get(url).json()["code"] == 3000
    caller.close()


def test_day_boundary_follows_the_account_time_zone() -> None:
    class Clock:
        def __init__(self, now: float) -> None:
            self.value = now

        def now(self) -> float:
            return self.value

    clock = Clock(86_400 * 100 + 18 * 3600 + 29 * 60)  # 18:29 UTC = 23:59 in India
    daily = DailyCalls(clock)  # type: ignore[arg-type]
    assert daily.take("a", 330, 1)
    assert not daily.take("a", 330, 1)
    clock.value += 120  # 00:01 in India, still the same UTC day
    assert daily.take("a", 330, 1)
    assert not daily.take("a", 0, 0)


def test_50_a_minute_per_endpoint_is_2955_with_429(creator: CreatorCaller) -> None:
    url = f"{creator.root}/meta/applications"
    statuses = [creator.get(url).status_code for _ in range(51)]
    assert statuses == [200] * 50 + [429]
    refused = creator.get(url)
    assert refused.json() == {"code": 2955, "message": refused.json()["message"]}
    other = creator.get(f"{creator.root}/meta/jason18/order-desk/reports")
    assert other.status_code == 200  # another endpoint has its own minute
    creator.sim.state.clock.advance(60)
    assert creator.get(url).status_code == 200
