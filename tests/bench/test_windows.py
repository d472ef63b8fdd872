"""The serial-against-windows benchmark's arithmetic (the run: ``python -m bench.windows``)."""

from __future__ import annotations

from bench.windows import union_seconds


def test_union_counts_overlapping_jobs_once() -> None:
    assert union_seconds([]) == 0.0
    assert union_seconds([(0.0, 10.0), (2.0, 5.0)]) == 10.0  # one inside the other
    assert union_seconds([(0.0, 10.0), (5.0, 20.0), (30.0, 31.0)]) == 21.0
    assert union_seconds([(5.0, 20.0), (0.0, 10.0)]) == 20.0  # order does not matter
