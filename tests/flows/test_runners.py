from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask
import distributed  # noqa: F401  (loads its config defaults)
import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from engine.errors import UsageError
from engine.settings import RunSettings
from flows.runners import build_task_runner

PROFILER = "distributed.worker.profile.enabled"


@pytest.fixture
def restore_dask_config() -> Iterator[None]:
    saved = dask.config.get(PROFILER)
    yield
    dask.config.set({PROFILER: saved})


def test_threads_is_prefects_thread_pool(tmp_path: Path) -> None:
    runner = build_task_runner(RunSettings(data_dir=str(tmp_path), concurrency=3))
    assert isinstance(runner, ThreadPoolTaskRunner)


@pytest.mark.usefixtures("restore_dask_config")
def test_the_local_dask_cluster_runs_in_threads_without_the_worker_profiler(
    tmp_path: Path,
) -> None:
    dask.config.set({PROFILER: True})
    runner = build_task_runner(
        RunSettings(data_dir=str(tmp_path), task_runner="dask", concurrency=2)
    )
    assert runner.cluster_kwargs["processes"] is False
    assert runner.cluster_kwargs["threads_per_worker"] == 2
    # sys._current_frames() every 10 ms can deadlock CPython 3.11 < 3.11.9 (cpython#106883)
    assert dask.config.get(PROFILER) is False


def test_a_remote_dask_cluster_needs_a_shared_warehouse(tmp_path: Path) -> None:
    settings = RunSettings(data_dir=str(tmp_path), task_runner="dask", dask_address="tcp://x:8786")
    with pytest.raises(UsageError, match="cannot share an embedded DuckDB"):
        build_task_runner(settings)
