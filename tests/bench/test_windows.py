"""The serial-against-windows benchmark's arithmetic (the run: ``python -m bench.windows``)."""

from __future__ import annotations

import pytest

from bench.windows import ratios, run, targets, union_seconds


def test_union_counts_overlapping_jobs_once() -> None:
    assert union_seconds([]) == 0.0
    assert union_seconds([(0.0, 10.0), (2.0, 5.0)]) == 10.0  # one inside the other
    assert union_seconds([(0.0, 10.0), (5.0, 20.0), (30.0, 31.0)]) == 21.0
    assert union_seconds([(5.0, 20.0), (0.0, 10.0)]) == 20.0  # order does not matter


@pytest.mark.slow
def test_a_small_run_reads_the_second_export_as_parallel_windows_each_record_once() -> None:
    # 12,000 records: over REST's break-even (11,400), so the second export takes bulk
    result = run(12_000, time_scale=0.002, jobs_at_once=3, seed=7, per_page=4_000)

    serial, parallel = result["serial"], result["parallel"]
    assert serial["bulk_jobs"] == 3
    assert parallel["bulk_jobs"] == 3  # one job a window: as many as serial pages
    assert "windows" in parallel["reason"]
    assert parallel["table_rows"] == parallel["distinct_ids"] == result["simulator_count"]
    assert result["simulator_count"] == 12_000
    assert result["time_scale"] == 0.002
    verdicts = {t.name: t.verdict for t in targets(result)}
    assert verdicts["windows_every_record_once"] == "PASS"
    assert set(ratios(result)) == {
        "windows_serial_over_parallel_wall",
        "windows_parallel_over_serial_credits",
    }
