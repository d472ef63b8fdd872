from __future__ import annotations

import pytest

from connectors.errors import (
    ConnectionDroppedError,
    CorruptZipError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    ZohoError,
)
from connectors.retry import RetryPolicy
from recovery import TerminalError, TransientError


class WarehouseOutage(TransientError):
    """A transient error of another package (not a ``ZohoError``)."""


class BadMapping(TerminalError):
    """A terminal error of another package."""


def run(policy: RetryPolicy, outcomes: list[Exception | str], only: type = Exception) -> str:
    """Play ``outcomes`` through the policy; without ``only``, the policy's own default."""
    kwargs = {} if only is Exception else {"only": only}
    for attempt in policy.retrying("GET /x", **kwargs):
        with attempt:
            item = outcomes.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
    raise AssertionError("unreachable")


def test_retries_retriable_errors_with_growing_waits() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=5, initial_wait=0.5, max_wait=4, jitter=0, sleep=waits.append)
    out = run(
        policy,
        [ServerError("a"), ConnectionDroppedError("b"), ServerError("c"), ServerError("d"), "ok"],
    )
    assert out == "ok"
    assert waits == [0.5, 1.0, 2.0, 4.0]


def test_jitter_stays_within_bounds() -> None:
    waits: list[float] = []
    policy = RetryPolicy(
        max_attempts=3, initial_wait=1, max_wait=10, jitter=0.5, sleep=waits.append
    )
    run(policy, [ServerError("a"), ServerError("b"), "ok"])
    assert 1 <= waits[0] <= 1.5
    assert 2 <= waits[1] <= 2.5


def test_retry_after_wins_and_is_capped() -> None:
    waits: list[float] = []
    policy = RetryPolicy(
        max_attempts=3, initial_wait=0.1, jitter=0, max_retry_after=5, sleep=waits.append
    )
    run(policy, [RateLimitedError("a", retry_after=2), RateLimitedError("b", retry_after=99), "ok"])
    assert waits == [2, 5]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    policy = RetryPolicy(max_attempts=3, initial_wait=0, jitter=0, sleep=lambda _: None)
    with pytest.raises(ServerError, match="third"):
        run(policy, [ServerError("first"), ServerError("second"), ServerError("third"), "ok"])


def test_fatal_errors_are_not_retried() -> None:
    calls: list[float] = []
    policy = RetryPolicy(max_attempts=5, sleep=calls.append)
    with pytest.raises(InvalidRequestError):
        run(policy, [InvalidRequestError("nope"), "ok"])
    assert calls == []


def test_only_narrows_the_retried_errors() -> None:
    policy = RetryPolicy(max_attempts=3, initial_wait=0, jitter=0, sleep=lambda _: None)
    assert run(policy, [CorruptZipError("z"), "ok"], only=CorruptZipError) == "ok"
    with pytest.raises(ServerError):
        run(policy, [ServerError("s"), "ok"], only=CorruptZipError)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match=">= 0"):
        RetryPolicy(initial_wait=-1)


def test_a_transient_error_from_any_package_is_retried() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_wait=0.5, jitter=0, sleep=waits.append)
    outage = WarehouseOutage("the warehouse is down")
    assert not isinstance(outage, ZohoError)
    assert run(policy, [outage, "ok"]) == "ok"
    assert waits == [0.5]


def test_a_terminal_error_from_any_package_is_not_retried() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, sleep=waits.append)
    with pytest.raises(BadMapping):
        run(policy, [BadMapping("no such field"), "ok"])
    assert waits == []
