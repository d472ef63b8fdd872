"""The simulator's clock: real time plus an offset that tests move forward.

Everything time-based (token expiry, job progress, page-token and result expiry, the rolling
credit window, the download-rate window) reads ``SimClock.now()``, so a test can either wait
a short real time or call ``advance(seconds)``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone


class SimClock:
    """Monotonic-ish wall clock (epoch seconds) with a test-controlled forward offset."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (must be >= 0); return the new time."""
        if seconds < 0:
            raise ValueError(f"the simulator clock only moves forward, got {seconds} s")
        with self._lock:
            self._offset += seconds
            return time.time() + self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset


def format_time(epoch: float, utc_offset_minutes: int) -> str:
    """ISO 8601 with the org's UTC offset and no fraction, like ``2025-05-23T12:15:20+05:30``."""
    tz = timezone(timedelta(minutes=utc_offset_minutes))
    return datetime.fromtimestamp(int(epoch), tz=tz).isoformat()


def parse_time(text: str) -> float:
    """Parse ISO 8601 (date or date-time, offset optional meaning UTC) to epoch seconds."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
