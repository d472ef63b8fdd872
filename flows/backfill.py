"""The backfill flow: one module between two dates, in windows of at most one bulk page.

The range is cut into windows (``window_days``); each is read by REST or a bulk job, whichever
the last export's record spread says costs fewer credits (the forecast, per window its method,
estimated credits and reason, is logged and shown by the CLI before anything is read); a bulk
window whose first page reports ``more_records`` is split in two,
recursively, so each stays under Zoho's 200,000 records per page. Windows run in parallel
up to ``settings.concurrency`` after a credit-budget check;
a window finished in an earlier run is a no-op.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger

from engine.backfill import WindowResult, announce_forecast, forecast_backfill
from engine.errors import RunFailedError
from engine.modules import ProductName, validate_module, validate_product
from engine.planning import PLAIN_CALL, backfill_windows
from engine.runtime import runtime_for
from flows.artifacts import Progress, artifact_key, publish_table
from flows.blocks import WarehouseSettings, ZohoCredentials
from flows.cancellation import cancelled_or_raise
from flows.connection import flow_connection, flow_settings
from flows.export import first_line
from flows.run_logging import forward_library_logs
from flows.runners import build_task_runner
from flows.tasks import backfill_window_task


@flow(name="zoho-backfill", description="Backfill one Zoho module between two dates.")
def backfill_flow(
    product: ProductName,
    module: str,
    start: datetime,
    end: datetime,
    window_days: float = 30.0,
    credentials: ZohoCredentials | None = None,
    warehouse: WarehouseSettings | None = None,
) -> list[dict[str, Any]]:
    """Load one module's records created between two dates, window by window.

    Args:
        product: Which Zoho product the module belongs to.
        module: Module API name, e.g. Deals.
        start: First instant of the range (records created at or after it).
        end: End of the range (records created before it).
        window_days: Initial window length; a window with more records than one bulk
            page (200,000) is split in two until each fits.
        credentials: The ZohoCredentials block of the organisation. Empty: the worker's
            ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET / ZOHO_REFRESH_TOKEN variables.
        warehouse: A Zoho ETL Warehouse block (URL and data directory). Empty: the worker's
            ZOHO_ETL_WAREHOUSE_URL / ZOHO_ETL_DATA_DIR, else a DuckDB file under ./data.
    """
    forward_library_logs()
    logger = get_run_logger()
    product = validate_product(product)
    module = validate_module(product, module)
    windows = backfill_windows(start, end, timedelta(days=window_days))
    settings = flow_settings(warehouse)
    connection = flow_connection(credentials)
    rt = runtime_for(connection, settings)
    rt.forget_fields(product, module)
    rt.fields(product, module)  # fail fast on an unknown module, before any bulk job
    forecast = forecast_backfill(rt, product, module, windows, planning_credits=PLAIN_CALL)
    for line in forecast.lines():
        logger.info("%s", line.strip())
    announce_forecast(forecast)  # printed by the CLI before anything is read
    rt.budget.check_run(
        forecast.credits - forecast.planning_credits,
        f"backfill {product} {module} ({len(forecast.windows)} of {len(windows)} windows to do)",
    )
    progress = Progress(product, module, f"backfill of {product} {module}")
    rows: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    with build_task_runner(settings) as runner:
        futures = [
            (
                window,
                runner.submit(
                    backfill_window_task.with_options(
                        task_run_name=f"backfill {module} {window.label()}"
                    ),
                    parameters={
                        "connection": connection,
                        "settings": settings,
                        "product": product,
                        "module": module,
                        "window": window,
                    },
                ),
            )
            for window in windows
        ]
        for done, (window, future) in enumerate(futures, start=1):
            try:
                result: WindowResult = future.result()
            except Exception as exc:  # one window's failure must not hide the others
                failures[window.label()] = f"{type(exc).__name__}: {first_line(exc)}"
                rows.append(
                    {"window": window.label(), "status": f"FAILED: {failures[window.label()]}"}
                )
                continue
            finally:
                progress.update(done / len(futures), f"{done} of {len(futures)} windows done")
            rows.append(
                {
                    "window": window.label(),
                    "status": "already loaded" if result.skipped else "loaded",
                    "method": result.method,
                    "reason": result.reason,
                    "split into": result.split_into,
                    "rows loaded": result.rows_loaded,
                    "rejected": result.rows_rejected,
                    "bulk jobs": result.bulk_jobs_created,
                    "credits": result.credits,
                }
            )
    publish_table(
        artifact_key("backfill", product, module),
        rows,
        f"Backfill of {product} {module} from {start:%Y-%m-%d} to {end:%Y-%m-%d}",
    )
    logger.info("backfill %s %s: %d windows, %d failed", product, module, len(rows), len(failures))
    if failures:
        return cancelled_or_raise(RunFailedError(f"backfill {product} {module}", failures, rows))
    return rows
