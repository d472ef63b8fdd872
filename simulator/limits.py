"""Per-org credits (rolling 24 h), the bulk download rate (per minute) and in-flight calls.

All windows read the simulator clock, so ``clock.advance`` frees credits and downloads.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque

from simulator.clock import SimClock
from simulator.errors import too_many_requests

CREDIT_WINDOW = 86_400.0
DOWNLOAD_WINDOW = 60.0


class CreditLedger:
    """Credits spent per org within the last 24 h of simulator time."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _used(self, org: str, now: float) -> int:
        window = self._spent[org]
        while window and window[0][0] <= now - CREDIT_WINDOW:
            window.popleft()
        return sum(cost for _, cost in window)

    def used(self, org: str) -> int:
        with self._lock:
            return self._used(org, self._clock.now())

    def remaining(self, org: str, allowance: int) -> int:
        return max(allowance - self.used(org), 0)

    def charge(self, org: str, cost: int, allowance: int) -> int:
        """Spend ``cost`` credits or raise 429; return what remains."""
        with self._lock:
            now = self._clock.now()
            used = self._used(org, now)
            if used + cost > allowance:
                raise too_many_requests(f"org {org} has {allowance - used} credits left")
            if cost:
                self._spent[org].append((now, cost))
            return allowance - used - cost


class DownloadRate:
    """At most ``limit`` bulk downloads per org in any 60 s of simulator time."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._times: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, org: str, limit: int) -> None:
        with self._lock:
            now = self._clock.now()
            times = self._times[org]
            while times and times[0] <= now - DOWNLOAD_WINDOW:
                times.popleft()
            if len(times) >= limit:
                raise too_many_requests(f"org {org} made {limit} downloads in the last minute")
            times.append(now)


class InFlight:
    """Concurrent calls per org (Zoho's per-edition concurrency limit)."""

    def __init__(self) -> None:
        self._count: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def enter(self, org: str, limit: int) -> None:
        with self._lock:
            if self._count[org] >= limit:
                raise too_many_requests(f"org {org} has {limit} calls in flight")
            self._count[org] += 1

    def leave(self, org: str) -> None:
        with self._lock:
            self._count[org] = max(self._count[org] - 1, 0)

    def current(self, org: str) -> int:
        with self._lock:
            return self._count[org]
