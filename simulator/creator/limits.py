"""Creator's call limits on the simulator clock (``zoho-creator-api.md`` §3, §7).

- ``DailyCalls``: Developer API calls per account per *calendar day* in the super admin's time
  zone (the count resets at 00:00 there, not after a rolling 24 h); the allowance is the plan's
  per-user figure times the users (Free: 250 in all).
- ``MinuteWindow``: at most N calls per key in any 60 s (50 per endpoint; bulk read create 5 and
  download 10 per user).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simulator.clock import SimClock

DAY = 86_400
MINUTE = 60.0


@dataclass(frozen=True)
class Plan:
    name: str
    calls_per_user: int
    per_user: bool = True

    def allowance(self, users: int) -> int:
        return self.calls_per_user * (max(users, 1) if self.per_user else 1)


PLANS: Mapping[str, Plan] = MappingProxyType(
    {
        "free": Plan("free", 250, per_user=False),
        "standard": Plan("standard", 250),
        "professional": Plan("professional", 500),
        "enterprise": Plan("enterprise", 1_000),
        "zoho_one": Plan("zoho_one", 1_000),
    }
)


class DailyCalls:
    """Calls counted per account and local day."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = defaultdict(int)
        self._lock = threading.Lock()

    def _day(self, utc_offset_minutes: int) -> int:
        return int(self._clock.now() + utc_offset_minutes * 60) // DAY

    def used(self, account: str, utc_offset_minutes: int) -> int:
        with self._lock:
            return self._counts[(account, self._day(utc_offset_minutes))]

    def take(self, account: str, utc_offset_minutes: int, allowance: int) -> bool:
        """Count one call; False (and nothing counted) when the day's allowance is spent."""
        with self._lock:
            key = (account, self._day(utc_offset_minutes))
            if self._counts[key] >= allowance:
                return False
            self._counts[key] += 1
            return True


class MinuteWindow:
    """At most ``limit`` calls per key in any minute of simulator time."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._times: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, key: str, limit: int) -> bool:
        with self._lock:
            now = self._clock.now()
            times = self._times[key]
            while times and times[0] <= now - MINUTE:
                times.popleft()
            if len(times) >= limit:
                return False
            times.append(now)
            return True
