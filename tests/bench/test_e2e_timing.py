"""Pieces of the benchmark that need no simulator: how ours' waits split into Zoho's time
and poll latency, the load trend, and what a failing worker does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.e2e import Bench, WorkerFailed, blocked_on_zoho, run_worker
from bench.e2e_config import E2EConfig
from bench.e2e_summary import load_trend
from bench.sim_process import SimProcess


def test_a_wait_splits_at_the_jobs_completion() -> None:
    # waited 10 -> 16, the job completed at 14: 4 s blocked on Zoho, 2 s not yet noticed
    blocked, latency = blocked_on_zoho([["j1", 10.0, 16.0]], {"j1": (9.0, 14.0)})
    assert blocked == pytest.approx(4.0)
    assert latency == pytest.approx(2.0)


def test_a_job_done_before_the_wait_costs_only_the_check() -> None:
    # created ahead: it finished while the previous page loaded; the one poll is ours
    blocked, latency = blocked_on_zoho([["j2", 20.0, 20.05]], {"j2": (12.0, 18.0)})
    assert blocked == 0.0
    assert latency == pytest.approx(0.05)


def test_waits_add_up_across_jobs() -> None:
    waits = [["a", 0.0, 3.0], ["b", 5.0, 6.0]]
    blocked, latency = blocked_on_zoho(waits, {"a": (0.0, 2.5), "b": (1.0, 7.0)})
    assert blocked == pytest.approx(2.5 + 1.0)
    assert latency == pytest.approx(0.5)


@pytest.mark.parametrize("server", [None, {"other": (0.0, 1.0)}])
def test_without_server_times_the_whole_wait_counts_as_zoho_and_latency_is_unknown(
    server: dict[str, tuple[float, float]] | None,
) -> None:
    blocked, latency = blocked_on_zoho([["a", 0.0, 3.0], ["b", 5.0, 6.0]], server)
    assert blocked == pytest.approx(4.0)
    assert latency is None


def test_load_trend_compares_the_first_and_last_tenth_of_the_pages() -> None:
    pages = [{"load_seconds": float(i)} for i in range(1, 21)]  # 20 pages: tenths of 2
    assert load_trend(pages) == {
        "page_load_seconds_first_tenth": 1.5,
        "page_load_seconds_last_tenth": 19.5,
    }
    assert load_trend([{"load_seconds": 1.0}]) == {}
    assert load_trend([{"job_id": "x"}, {"job_id": "y"}]) == {}


def test_a_failing_worker_raises_worker_failed(tmp_path: Path) -> None:
    with pytest.raises(WorkerFailed, match="'bogus' exited with code 1"):
        run_worker("bogus", {"variant": "no-such-variant"}, tmp_path)


def test_an_optional_leg_that_fails_is_recorded_and_other_errors_propagate(
    tmp_path: Path,
) -> None:
    bench = Bench(E2EConfig(), SimProcess("http://127.0.0.1:9", 0), tmp_path)

    def failing_leg() -> None:
        raise WorkerFailed("benchmark worker 'x' exited with code 1")

    bench.optional("x", failing_leg)
    assert bench.failures == {"x": "benchmark worker 'x' exited with code 1"}
    with pytest.raises(ZeroDivisionError):
        bench.optional("y", lambda: 1 / 0)
