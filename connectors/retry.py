"""Retry policy for Zoho calls, built on tenacity.

Only a ``recovery.TransientError`` is retried (the one recovery vocabulary: 429,
500/502/503/504, dropped connections, corrupt downloads, and any other package's transient
error raised inside the retried call). Waits grow exponentially with jitter up to
``max_wait``; a ``Retry-After`` from Zoho, when present, is honoured instead (capped at
``max_retry_after``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.errors import RateLimitedError
from recovery.errors import TransientError

log = logging.getLogger("connectors.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    ``max_attempts`` counts the first try. Tests and benchmarks pass small waits.
    """

    max_attempts: int = 6
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_wait < 0 or self.max_wait < 0 or self.jitter < 0:
            raise ValueError("retry waits must be >= 0")

    def wait_seconds(self, state: RetryCallState) -> float:
        """Seconds to wait before the next attempt (tenacity ``wait`` callable)."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        backoff = wait_exponential_jitter(
            multiplier=self.initial_wait, max=self.max_wait, jitter=self.jitter
        )
        return float(backoff(state))

    def retrying(
        self,
        what: str,
        only: type[BaseException] | tuple[type[BaseException], ...] = TransientError,
    ) -> Retrying:
        """A tenacity controller; ``what`` names the call in log lines (no query strings).

        ``only`` narrows which (transient) errors this loop retries, for nested loops.
        """

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s failed with %s (attempt %d of %d); retrying in %.2f s",
                what,
                type(exc).__name__ if exc else "?",
                state.attempt_number,
                self.max_attempts,
                wait,
            )

        return Retrying(
            retry=retry_if_exception_type(only),
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait_seconds,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
