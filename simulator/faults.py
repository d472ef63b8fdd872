"""Injected faults: what goes wrong on the next calls, jobs or downloads.

A ``Fault`` fires on calls whose path (without ``/{dc}/{service}``, e.g.
``/crm/bulk/v8/read/123/result``) matches its glob ``path`` and, if ``org`` is given, that
come with an access token of that org; then it counts down (``count=-1``: until cleared).

Kinds:
- ``status``: answer ``status`` (429 / 500 / 503) with Zoho's error envelope instead (a 429
  with ``seconds`` > 0 carries ``Retry-After: seconds``).
- ``delay``: hold the call ``seconds`` before answering (counts as in flight: concurrency).
- ``drop_download``: send half of a bulk download, then drop the connection.
- ``truncate_zip``: a complete response whose zip is cut short (``fraction`` of the bytes).
- ``corrupt_zip``: a complete zip whose CSV entry fails its CRC check.
- ``job_failure``: the next bulk jobs end in ``FAILURE`` with an error_message.
- ``slow_job``: the next bulk jobs take ``seconds`` to process.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal[
    "status", "delay", "drop_download", "truncate_zip", "corrupt_zip", "job_failure", "slow_job"
]
FAULT_KINDS: tuple[str, ...] = (
    "status",
    "delay",
    "drop_download",
    "truncate_zip",
    "corrupt_zip",
    "job_failure",
    "slow_job",
)


@dataclass
class Fault:
    kind: FaultKind
    count: int = 1
    path: str = "*"
    status: int = 503
    seconds: float = 0.0
    fraction: float = 0.5
    org: str | None = None
    fired: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {FAULT_KINDS}")
        if self.kind == "status" and self.status not in (429, 500, 502, 503, 504):
            raise ValueError(f"status faults answer 429 or 5xx, not {self.status}")
        if not 0.0 < self.fraction < 1.0:
            raise ValueError("fraction must be between 0 and 1")

    def matches(self, kind: str, path: str, org: str | None) -> bool:
        if self.kind != kind or self.count == 0:
            return False
        if self.org is not None and self.org != org:
            return False  # org-scoped faults skip calls of other orgs and anonymous calls
        return fnmatch.fnmatchcase(path, self.path)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """The active faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, kind: str, path: str = "", org: str | None = None) -> Fault | None:
        """The first matching fault (its count goes down by one), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(kind, path, org):
                    if fault.count > 0:
                        fault.count -= 1
                    fault.fired += 1
                    return fault
        return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults if f.count != 0]
