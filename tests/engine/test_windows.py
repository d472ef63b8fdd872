"""Window arithmetic for backfills and partitioned exports: hand-made inputs, no I/O."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from engine.planning import Window
from engine.windows import (
    EARLIEST,
    OPEN_END,
    is_open,
    label,
    plan_from_state,
    plan_partition,
    plan_to_state,
    split,
)

T0 = datetime(2025, 1, 1)


def times(*seconds: int) -> pa.Array:
    return pa.array([T0 + timedelta(seconds=s) for s in seconds], pa.timestamp("us"))


def count_in(window: Window, values: pa.Array) -> int:
    return sum(1 for t in values.to_pylist() if window.start <= t < window.end)


def test_partition_has_as_many_windows_as_pages_and_covers_everything() -> None:
    created = times(*range(10))
    plan = plan_partition(created, per_page=4)
    assert len(plan) == 3  # ceil(10 / 4): the pages a serial export needs
    assert plan[0].start == EARLIEST
    assert plan[-1].end == OPEN_END
    assert is_open(plan[-1])
    assert all(a.end == b.start for a, b in itertools.pairwise(plan))  # disjoint, no gap
    assert [count_in(w, created) for w in plan] == [4, 4, 2]


def test_equal_times_never_straddle_a_cut() -> None:
    one = T0 + timedelta(seconds=1)
    plan = plan_partition(times(0, 1, 1, 1, 1, 2), per_page=2)
    assert plan == [Window(EARLIEST, one), Window(one, OPEN_END)]  # the four at 1 s together


def test_a_module_that_fits_one_page_is_one_open_window() -> None:
    assert plan_partition(times(1, 2, 3), per_page=10) == [Window(EARLIEST, OPEN_END)]
    with pytest.raises(ValueError, match="per_page"):
        plan_partition(times(1), per_page=0)


def test_an_open_window_splits_at_the_middle_of_start_to_now_and_stays_open() -> None:
    now = T0 + timedelta(hours=2)
    lower, upper = split(Window(T0, OPEN_END), now) or (None, None)
    assert lower == Window(T0, T0 + timedelta(hours=1))
    assert upper == Window(T0 + timedelta(hours=1), OPEN_END)
    assert split(Window(T0, T0 + timedelta(seconds=3)), now) is None
    assert label(Window(T0, OPEN_END)) == "2025-01-01T00:00:00..open"


def test_the_plan_survives_the_ledger_query_round_trip() -> None:
    plan = plan_partition(times(*range(7)), per_page=3)
    assert plan_from_state(plan_to_state(plan)) == plan
    assert plan_from_state(None) is None
