"""The job ledger as the observer of the connectors' credit meter: one account of credits.

Every call a runtime's clients make is counted by ``connectors.credits.CreditMeter``, which
tells a ``LedgerCreditObserver``:

- **reserve**, before the call is sent: its credits are reserved in the ledger's
  ``credit_spend`` table against the account's ``Allowance`` (the org's rolling 24-hour budget,
  ``engine.budget.CreditBudget``; Creator's calendar-day call cap,
  ``engine.creator_source.CreatorDailyCalls``), atomically across threads and processes. A
  refusal raises the budget error and the call is never sent.
- **settle**, once the answer (or its loss) is known: a charged call is attributed to the
  ledger job being worked on, named by the innermost ``charged_to`` scope of this thread
  (``Ledger.add_job_credits``), and added to that scope's ``credits`` and its enclosing
  scopes'; a refunded one (Zoho did no work: 429, 5xx, a connection never made) is recorded
  as a negative spend.

``prepaid`` lets a write reserve all its create calls in one reservation before it starts (so
it does not stop half-way for want of credits); the creates inside then draw from it, and what
is left unused is refunded when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from connectors.credits import CallType
from engine.ledger import JobRecord, Ledger


class Allowance(Protocol):
    """Credits an account may spend in its window: reserved in the ledger, or refused."""

    def spend(self, credits: int, what: str, job_key: str | None = None) -> None:
        """Record ``credits`` about to be spent, or raise the budget error recording nothing."""
        ...


@dataclass
class Charge:
    """A ``charged_to`` scope: the ledger job its calls are attributed to, and the credits
    charged inside it (nested scopes included)."""

    job_key: str | None
    what: str
    parent: Charge | None = None
    credits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, credits: int) -> None:
        scope: Charge | None = self
        while scope is not None:
            with scope._lock:
                scope.credits += credits
            scope = scope.parent


_charge: ContextVar[Charge | None] = ContextVar("credit_charge", default=None)


@contextmanager
def charged_to(job_key: str | None, what: str) -> Iterator[Charge]:
    """Attribute the calls made inside (in this thread) to ledger job ``job_key``."""
    charge = Charge(job_key, what, _charge.get())
    token = _charge.set(charge)
    try:
        yield charge
    finally:
        _charge.reset(token)


def charged_to_page(job: JobRecord, kind: str = "bulk-read") -> AbstractContextManager[Charge]:
    """``charged_to`` the page's ledger job, named ``{kind} {product} {module} page {n}``."""
    return charged_to(job.job_key, f"{kind} {job.product} {job.module} page {job.page}")


@dataclass
class _Prepaid:
    call_type: CallType
    left: int
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, call_type: CallType) -> bool:
        with self._lock:
            if call_type is not self.call_type or self.left <= 0:
                return False
            self.left -= 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.left += 1


_prepaid: ContextVar[_Prepaid | None] = ContextVar("credit_prepaid", default=None)


@contextmanager
def prepaid(
    allowance: Allowance,
    ledger: Ledger,
    account: str,
    call_type: CallType,
    *,
    calls: int,
    credits_each: int,
    what: str,
) -> Iterator[None]:
    """Reserve ``calls`` calls of ``call_type`` at once (or raise, nothing sent); the calls
    made inside draw from it, and the unused rest is refunded at the end."""
    allowance.spend(calls * credits_each, what)
    pool = _Prepaid(call_type, calls)
    token = _prepaid.set(pool)
    try:
        yield
    finally:
        _prepaid.reset(token)
        if pool.left:
            refund = -pool.left * credits_each
            ledger.record_spend(account, refund, f"refund: {what}: {pool.left} not sent")


@dataclass(frozen=True)
class _Ticket:
    credits: int
    what: str
    charge: Charge | None
    prepaid: _Prepaid | None

    @property
    def job_key(self) -> str | None:
        return self.charge.job_key if self.charge is not None else None


class LedgerCreditObserver:
    """Reserves, refunds and attributes the calls of one client in ``ledger``.

    ``account`` is the ``credit_spend`` org key of ``allowance`` (the org id; Creator's
    ``{org}:creator``); ``label`` names calls made outside any ``charged_to`` scope.
    """

    def __init__(self, ledger: Ledger, account: str, allowance: Allowance, label: str) -> None:
        self.ledger = ledger
        self.account = account
        self.allowance = allowance
        self.label = label

    def reserve(self, call_type: CallType, credits: int) -> _Ticket:
        charge = _charge.get()
        what = f"{charge.what if charge is not None else self.label}: {call_type.value}"
        pool = _prepaid.get()
        if pool is not None and pool.take(call_type):
            return _Ticket(credits, what, charge, pool)
        ticket = _Ticket(credits, what, charge, None)
        self.allowance.spend(credits, what, ticket.job_key)
        return ticket

    def settle(self, ticket: object, *, charged: bool) -> None:
        assert isinstance(ticket, _Ticket)
        if not charged:
            if ticket.prepaid is not None:
                ticket.prepaid.give_back()
            else:
                what = f"refund: {ticket.what}"
                self.ledger.record_spend(self.account, -ticket.credits, what, ticket.job_key)
            return
        if ticket.job_key is not None:
            self.ledger.add_job_credits(ticket.job_key, ticket.credits)
        if ticket.charge is not None:
            ticket.charge.add(ticket.credits)
