"""Errors raised by the engine (ledger, page walk, credit budget, extract and write drivers).

Grouped by what the user can do about them; each branch derives from a marker of ``recovery``
(library errors from ``connectors`` and ``transforms`` keep their own trees and pass through
unchanged)::

    EngineError                     root of everything raised by ``engine`` (an ``EtlError``)
    ├── UsageError                  TerminalError: fix the command line, parameters or files
    │   ├── UnknownModuleError      a module name the product does not have
    │   ├── BadDateRangeError       start after end, unparsable dates, empty windows
    │   ├── MissingCredentialsError no credentials in the environment or the named block
    │   └── SourceError             a write-back source (path, table, query) that cannot be read
    ├── BudgetExceededError         the org's credit budget cannot cover the run: resume later
    │                               (also a ``connectors`` ``CreditBudgetExceededError``: the
    │                               one budget family, so TerminalError)
    ├── LedgerError                 TerminalError: the ledger refused a state change (a bug or
    │                               a concurrent run)
    ├── PageFailedError             TerminalError: Zoho ended a page's bulk job FAILURE; a
    │                               re-run plans a new job (an automatic retry would spend
    │                               credits without a person seeing Zoho's reason)
    ├── PageNotLoadedError          TerminalError: an extract would close with a page not loaded
    └── RunFailedError              TerminalError: modules / windows failed; names each and why

Exit codes of the CLI follow the same grouping (see ``cli.main``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.errors import CreditBudgetExceededError
from recovery.errors import EtlError, TerminalError


class EngineError(EtlError):
    """Root of the errors raised by the engine package."""


#: The root's name before the engine left ``flows`` (still imported by ``cli.main`` and
#: ``engine.extracts``; both can name ``EngineError`` instead).
FlowsError = EngineError


class UsageError(EngineError, TerminalError):
    """Bad input from the user: the command line, flow parameters or a file they named."""


class UnknownModuleError(UsageError):
    def __init__(self, product: str, module: str, known: tuple[str, ...]) -> None:
        self.product = product
        self.module = module
        self.known = known
        super().__init__(f"unknown {product} module {module!r}; choose one of: {', '.join(known)}")


class BadDateRangeError(UsageError):
    def __init__(self, start: object, end: object, reason: str) -> None:
        self.start = start
        self.end = end
        self.reason = reason
        super().__init__(f"bad date range {start} .. {end}: {reason}")


class MissingCredentialsError(UsageError):
    def __init__(self, missing: tuple[str, ...], where: str) -> None:
        self.missing = missing
        self.where = where
        super().__init__(
            f"missing Zoho credentials: {', '.join(missing)} not set ({where}); "
            "set them or pass --credentials-block NAME"
        )


class SourceError(UsageError):
    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"cannot read write-back source {source!r}: {reason}")


class BudgetExceededError(EngineError, CreditBudgetExceededError):
    """The run would spend more credits than the organisation has left today.

    Raised before anything is spent. Nothing is lost: re-run after ``available_at``
    (or raise the budget) and the run resumes from its ledger.
    """

    def __init__(
        self,
        org: str,
        needed: int,
        available: int,
        budget: int,
        what: str,
        available_at: datetime | None = None,
        progress: str | None = None,
    ) -> None:
        self.org = org
        self.needed = needed
        self.available = available
        self.budget = budget
        self.what = what
        self.available_at = available_at
        self.progress = progress
        when = ""
        if available_at is not None:
            when = f"; enough credits free up by {available_at:%Y-%m-%d %H:%M} UTC"
        done = f"; {progress}" if progress else ""
        super().__init__(
            f"credit budget of org {org} exceeded by {what}: needs {needed} credits, "
            f"{available} of {budget} left in the last 24 h{when}{done}; "
            "re-run later to resume, or raise the budget",
            needed=needed,
            available=available,
        )

    def _render(self) -> str:
        """The message alone (it already says what to do; no Zoho code or hint appended)."""
        return self.message

    def with_progress(self, progress: str) -> BudgetExceededError:
        """The same refusal, saying what the run loaded and what is left to resume."""
        return BudgetExceededError(
            self.org,
            self.needed,
            self.available,
            self.budget,
            self.what,
            self.available_at,
            progress=progress,
        )


class LedgerError(EngineError, TerminalError):
    def __init__(self, job_key: str, reason: str) -> None:
        self.job_key = job_key
        self.reason = reason
        super().__init__(f"job ledger entry {job_key}: {reason}")


class PageFailedError(EngineError, TerminalError):
    """Zoho ended a page's bulk job in FAILURE; the page is failed, never loaded.

    The failed job stays in the ledger with Zoho's reason; re-running creates a new job for
    the page and continues the extract from there.
    """

    def __init__(self, module: str, page: int, job_id: str, reason: str) -> None:
        self.module = module
        self.page = page
        self.job_id = job_id
        self.reason = reason
        super().__init__(
            f"{module} page {page}: Zoho ended bulk job {job_id} in FAILURE ({reason}); "
            "re-run the same command to read this page with a new job"
        )


class PageNotLoadedError(EngineError, TerminalError):
    """An extract was about to close as loaded while one of its pages is not (a bug guard)."""

    def __init__(self, extract_id: str, module: str, reason: str) -> None:
        self.extract_id = extract_id
        self.module = module
        self.reason = reason
        super().__init__(
            f"{module} extract {extract_id}: {reason}; the extract stays open, "
            "re-run the same command to resume it"
        )


#: How a failure reads in ``RunFailedError.failures`` when its cause was the credit budget.
BUDGET_FAILURE_PREFIX = f"{BudgetExceededError.__name__}: "


class RunFailedError(EngineError, TerminalError):
    """Some units of work (modules, windows, write chunks) failed; the others completed.

    ``failures`` maps each failed part to ``"ErrorType: first line"``. When every part was
    stopped by the credit budget, ``budget_exhausted`` is true (the CLI exits 3, not 1).
    """

    def __init__(
        self, what: str, failures: Mapping[str, str], rows: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.what = what
        self.failures = dict(failures)
        self.rows = [dict(row) for row in rows]  # the run's summary, failed parts included
        self.budget_exhausted = bool(self.failures) and all(
            reason.startswith(BUDGET_FAILURE_PREFIX) for reason in self.failures.values()
        )
        listed = "; ".join(f"{name}: {reason}" for name, reason in self.failures.items())
        super().__init__(f"{what} failed for {len(self.failures)} of its parts: {listed}")
