"""Task runner choice: Prefect's thread pool (default) or a Dask cluster (``prefect-dask``).

``RunSettings.task_runner`` picks it: ``threads`` runs up to ``concurrency`` modules or
windows at once in this process; ``dask`` runs them on a Dask cluster, a local one (threads
in this process, so an embedded DuckDB warehouse keeps working) or the scheduler at
``dask_address`` (workers elsewhere need a shared warehouse such as PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from engine.errors import UsageError
from engine.settings import RunSettings


def build_task_runner(settings: RunSettings) -> Any:
    """A fresh, not yet started task runner for ``settings``."""
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.concurrency)
    import dask
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        if settings.effective_warehouse_url.startswith("duckdb"):
            raise UsageError(
                "a remote Dask cluster cannot share an embedded DuckDB file; "
                "use --warehouse-url postgresql+psycopg://... with --dask-address"
            )
        return DaskTaskRunner(address=settings.dask_address)
    # The worker's statistical profiler calls sys._current_frames() every 10 ms from the
    # event loop thread. In this process, on CPython 3.11 before 3.11.9, that can deadlock
    # the interpreter (python/cpython#106883: a garbage collection inside it frees a
    # threading.local while the thread-list lock is held). Nobody reads that profile here
    # (no dashboard), so the local cluster runs without it.
    dask.config.set({"distributed.worker.profile.enabled": False})
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 1,
            "threads_per_worker": settings.concurrency,
            "processes": False,
            "dashboard_address": None,
        }
    )
