"""API credit accounting: what each call costs, what was spent, and an optional budget.

Costs follow ``shared/docs/zoho-bulk-api.md`` §5 / §1.9 / §2.8: 1 credit per call by
default, bulk read create 50, bulk write create 500, get records with a custom view 3,
record writes 1 per 10 records. Whether downloads and status calls cost 1 is UNCERTAIN;
they are counted as 1 (the conservative choice for a budget). Token refreshes go to the
accounts server and cost no CRM credits.

The meter is thread-safe. A call *reserves* its cost before it is sent (raising
``CreditBudgetExceededError`` if the budget cannot cover it, so the call never goes out)
and *settles* when the answer arrives: calls Zoho refused without doing work (429, 5xx,
connection errors, 401 before a token replay) are refunded. ``X-API-CREDITS-REMAINING``,
when Zoho sends it, is kept as the server's view of what is left.

An optional ``CreditObserver`` is told of every reservation (before the call is sent; it
may refuse it by raising ``CreditBudgetExceededError``) and of its settlement (charged or
refunded). The engine's job ledger is one: it reserves each call in a budget shared by
processes and attributes what was charged to the job being worked on.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from connectors.errors import CreditBudgetExceededError

CREDITS_REMAINING_HEADER = "X-API-CREDITS-REMAINING"


class CallType(StrEnum):
    """The kinds of call Zoho charges differently."""

    TOKEN_REFRESH = "token_refresh"  # noqa: S105 (a call type)
    BULK_READ_CREATE = "bulk_read_create"
    BULK_READ_STATUS = "bulk_read_status"
    BULK_READ_DOWNLOAD = "bulk_read_download"
    BULK_WRITE_UPLOAD = "bulk_write_upload"
    BULK_WRITE_CREATE = "bulk_write_create"
    BULK_WRITE_STATUS = "bulk_write_status"
    BULK_WRITE_DOWNLOAD = "bulk_write_download"
    METADATA = "metadata"
    GET_RECORDS = "get_records"
    GET_RECORDS_CVID = "get_records_cvid"
    DELETED_RECORDS = "deleted_records"
    RECORD_WRITE = "record_write"
    OTHER = "other"


#: Credits per call for Zoho CRM.
CRM_COSTS: Mapping[CallType, int] = {
    CallType.TOKEN_REFRESH: 0,
    CallType.BULK_READ_CREATE: 50,
    CallType.BULK_READ_STATUS: 1,
    CallType.BULK_READ_DOWNLOAD: 1,
    CallType.BULK_WRITE_UPLOAD: 1,
    CallType.BULK_WRITE_CREATE: 500,
    CallType.BULK_WRITE_STATUS: 1,
    CallType.BULK_WRITE_DOWNLOAD: 1,
    CallType.METADATA: 1,
    CallType.GET_RECORDS: 1,
    CallType.GET_RECORDS_CVID: 3,
    CallType.DELETED_RECORDS: 1,
    CallType.RECORD_WRITE: 1,  # per 10 records, see cost_of()
    CallType.OTHER: 1,
}

#: Zoho Recruit: Get Records costs 3 (Recruit limits page); bulk costs are UNCERTAIN and
#: taken to be the CRM ones.
RECRUIT_COSTS: Mapping[CallType, int] = {
    **CRM_COSTS,
    CallType.GET_RECORDS: 3,
    CallType.GET_RECORDS_CVID: 3,
}


@dataclass(frozen=True)
class CreditReport:
    """A snapshot of the meter, ready for a log line or a flow artifact."""

    used: int
    calls: Mapping[str, int]
    credits_by_call_type: Mapping[str, int]
    budget: int | None
    budget_left: int | None
    server_remaining: int | None


@dataclass(frozen=True)
class CreditEstimate:
    """Credits a planned set of calls needs against what is available."""

    needed: int
    available: int | None
    affordable: bool

    def describe(self) -> str:
        avail = "unlimited" if self.available is None else str(self.available)
        verdict = "fits" if self.affordable else "does NOT fit"
        return f"needs {self.needed} credits, {avail} available: {verdict}"


class CreditObserver(Protocol):
    """Told of every call that costs credits, before it is sent and once it is settled."""

    def reserve(self, call_type: CallType, credits: int) -> object:
        """The call is about to be sent: hold its credits, or raise
        ``CreditBudgetExceededError`` so it is never sent. Returns a ticket for ``settle``."""
        ...

    def settle(self, ticket: object, *, charged: bool) -> None:
        """The call's outcome is known: its credits were ``charged``, or are refunded."""
        ...


@dataclass
class Reservation:
    """Credits held for one call between ``reserve`` and ``settle``."""

    call_type: CallType
    credits: int
    settled: bool = field(default=False)
    #: what the observer returned for this call (None: not observed)
    ticket: object = None
    observed: bool = False


class CreditMeter:
    """Counts credits per call type; optionally refuses calls beyond ``budget``, and tells
    ``observer`` of every call that costs credits."""

    def __init__(
        self,
        costs: Mapping[CallType, int] = CRM_COSTS,
        budget: int | None = None,
        observer: CreditObserver | None = None,
    ):
        if budget is not None and budget < 0:
            raise ValueError(f"credit budget must be >= 0, got {budget}")
        self._costs = dict(costs)
        self._budget = budget
        self._observer = observer
        self._lock = threading.Lock()
        self._used = 0
        self._held = 0
        self._calls: Counter[str] = Counter()
        self._credits: Counter[str] = Counter()
        self._server_remaining: int | None = None

    def cost_of(self, call_type: CallType, records: int | None = None) -> int:
        """Credits one call costs (record writes: 1 per 10 records, rounded up)."""
        base = self._costs.get(call_type, self._costs.get(CallType.OTHER, 1))
        if call_type is CallType.RECORD_WRITE and records:
            return base * max(1, math.ceil(records / 10))
        return base

    def reserve(self, call_type: CallType, records: int | None = None) -> Reservation:
        """Hold the call's credits, or raise before it is sent when the budget cannot pay."""
        cost = self.cost_of(call_type, records)
        with self._lock:
            if self._budget is not None and cost > 0:
                available = self._budget - self._used - self._held
                if cost > available:
                    raise CreditBudgetExceededError(
                        f"a {call_type.value} call needs {cost} credits but only "
                        f"{max(available, 0)} of the budget of {self._budget} are left "
                        f"({self._used} used, {self._held} held by calls in flight)",
                        needed=cost,
                        available=max(available, 0),
                    )
            self._held += cost
        reservation = Reservation(call_type=call_type, credits=cost)
        if self._observer is not None and cost > 0:
            try:  # outside the lock: the observer may wait for a database
                reservation.ticket = self._observer.reserve(call_type, cost)
            except BaseException:
                with self._lock:
                    self._held -= cost
                raise
            reservation.observed = True
        return reservation

    def settle(
        self, reservation: Reservation, *, charged: bool, server_remaining: str | None = None
    ) -> None:
        """Turn the hold into spending (``charged``) or release it; record the server header."""
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            self._held -= reservation.credits
            if charged:
                self._used += reservation.credits
                self._calls[reservation.call_type.value] += 1
                self._credits[reservation.call_type.value] += reservation.credits
            if server_remaining is not None:
                parsed = _parse_int(server_remaining)
                if parsed is not None:
                    self._server_remaining = parsed
        if reservation.observed and self._observer is not None:
            self._observer.settle(reservation.ticket, charged=charged)

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    @property
    def budget(self) -> int | None:
        return self._budget

    def available(self) -> int | None:
        """Credits that can still be spent: the smaller of budget left and server's count."""
        with self._lock:
            return self._available_locked()

    def _available_locked(self) -> int | None:
        candidates = []
        if self._budget is not None:
            candidates.append(max(self._budget - self._used - self._held, 0))
        if self._server_remaining is not None:
            candidates.append(self._server_remaining)
        return min(candidates) if candidates else None

    def estimate(self, planned: Mapping[CallType, int]) -> CreditEstimate:
        """Credits needed for ``planned`` call counts, compared with what is available."""
        needed = sum(self.cost_of(ct) * n for ct, n in planned.items())
        available = self.available()
        return CreditEstimate(
            needed=needed,
            available=available,
            affordable=available is None or needed <= available,
        )

    def report(self) -> CreditReport:
        with self._lock:
            budget_left = (
                None if self._budget is None else max(self._budget - self._used - self._held, 0)
            )
            return CreditReport(
                used=self._used,
                calls=dict(self._calls),
                credits_by_call_type=dict(self._credits),
                budget=self._budget,
                budget_left=budget_left,
                server_remaining=self._server_remaining,
            )


def _parse_int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None
