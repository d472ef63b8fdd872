from __future__ import annotations

from engine.runtime import DownloadPacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_allows_n_downloads_a_minute_then_waits_for_the_oldest() -> None:
    fake = FakeTime()
    pacer = DownloadPacer(3, clock=fake.clock)
    for _ in range(3):
        assert pacer.acquire(fake.sleep) == 0.0
        fake.now += 1.0
    waited = pacer.acquire(fake.sleep)
    # the first download started at t=0, so the fourth may start just after t=60
    assert 56.9 < waited < 57.1
    assert fake.now >= 60.0
