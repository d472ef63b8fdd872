"""A per-organisation daily credit budget shared by every flow, kept in the job ledger.

Zoho counts credits over a rolling 24-hour window per organisation; the budget does the same
with the ``credit_spend`` table, so two flows (or two processes on PostgreSQL) draw from one
allowance. Two checks:

- ``check_run(needed, what)`` before a run spends anything: the run's estimate must fit;
- ``spend(credits, what)`` right before each credit-costing call (a bulk job is 50): atomically
  records the spend or raises ``BudgetExceededError`` without calling Zoho. The ledger's
  observer of the clients' credit meters calls it for every call (``engine.credit_ledger``).

Both errors say how many credits are needed, how many are left and when enough free up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.errors import BudgetExceededError
from engine.ledger import Ledger, to_naive_utc, utcnow

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class BudgetStatus:
    org: str
    budget: int
    spent: int

    @property
    def available(self) -> int:
        return max(self.budget - self.spent, 0)


class CreditBudget:
    """Daily credit budget of one organisation. ``budget=None`` means unlimited (still logged)."""

    def __init__(
        self,
        ledger: Ledger,
        org: str,
        budget: int | None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if budget is not None and budget < 0:
            raise ValueError(f"credit budget must be >= 0, got {budget}")
        self.ledger = ledger
        self.org = org
        self.budget = budget
        self._clock = clock

    def status(self) -> BudgetStatus:
        now = to_naive_utc(self._clock())
        spent = self.ledger.credits_spent_since(self.org, now - WINDOW)
        return BudgetStatus(self.org, self.budget if self.budget is not None else 0, spent)

    def available(self) -> int | None:
        if self.budget is None:
            return None
        return self.status().available

    def check_run(self, needed: int, what: str) -> None:
        """Raise before spending anything if ``needed`` credits do not fit today."""
        if self.budget is None:
            return
        available = self.status().available
        if needed > available:
            raise self._exceeded(needed, available, what)

    def spend(self, credits: int, what: str, job_key: str | None = None) -> None:
        """Record ``credits`` about to be spent, or raise without recording anything."""
        if self.budget is None:
            self.ledger.record_spend(self.org, credits, what, job_key, at=self._clock())
            return
        ok, available = self.ledger.reserve_credits(
            self.org,
            credits,
            what,
            limit=self.budget,
            window=WINDOW,
            job_key=job_key,
            now=self._clock(),
        )
        if not ok:
            raise self._exceeded(credits, available, what)

    def _exceeded(self, needed: int, available: int, what: str) -> BudgetExceededError:
        assert self.budget is not None
        return BudgetExceededError(
            org=self.org,
            needed=needed,
            available=available,
            budget=self.budget,
            what=what,
            available_at=self._when_available(needed),
        )

    def _when_available(self, needed: int) -> datetime | None:
        """The earliest time the rolling window has ``needed`` credits free, if ever."""
        assert self.budget is not None
        if needed > self.budget:
            return None
        now = to_naive_utc(self._clock())
        spends = self.ledger.spend_times(self.org, now - WINDOW)
        spent = sum(credits for _, credits in spends)
        for at, credits in spends:
            if self.budget - spent >= needed:
                break
            spent -= credits
            if self.budget - spent >= needed:
                return at + WINDOW
        return now if self.budget - spent >= needed else None
