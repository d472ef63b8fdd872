"""The export flow: full or incremental export of a list of modules of CRM or Recruit.

Modules run concurrently up to ``settings.concurrency`` on the chosen task runner; a module
that fails does not stop the others, and the flow run ends Failed naming each failed module
and why. Re-running after a crash resumes every module from the job ledger.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger

from engine.errors import RunFailedError
from engine.extracts import ExportMode, ExportOptions
from engine.ledger import utcnow
from engine.modules import ProductName, validate_module, validate_product
from engine.planning import estimate_run_credits
from engine.runtime import runtime_for
from engine.settings import RunSettings, ZohoConnection
from engine.summary import ModuleSummary
from flows.artifacts import publish_export_table, publish_module_details
from flows.blocks import WarehouseSettings, ZohoCredentials
from flows.cancellation import cancelled_or_raise
from flows.connection import flow_connection, flow_settings
from flows.run_logging import forward_library_logs
from flows.runners import build_task_runner
from flows.tasks import export_module_task


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def run_modules(
    connection: ZohoConnection,
    settings: RunSettings,
    product: str,
    modules: list[str],
    options: ExportOptions,
) -> tuple[list[ModuleSummary], dict[str, str]]:
    """Submit one task per module and collect every result (failures included)."""
    summaries: list[ModuleSummary] = []
    failures: dict[str, str] = {}
    started = utcnow()
    with build_task_runner(settings) as runner:
        futures = {
            module: runner.submit(
                export_module_task.with_options(task_run_name=f"export {product} {module}"),
                parameters={
                    "connection": connection,
                    "settings": settings,
                    "product": product,
                    "module": module,
                    "options": options,
                },
            )
            for module in modules
        }
        for module, future in futures.items():
            try:
                summaries.append(future.result())
            except Exception as exc:  # one module's failure must not hide the others
                failures[module] = f"{type(exc).__name__}: {first_line(exc)}"
                rt = runtime_for(connection, settings)
                jobs = rt.ledger.module_jobs_since(rt.org, product, module, started)
                summaries.append(
                    ModuleSummary.stopped(
                        product, module, options.mode, failures[module], jobs, started
                    )
                )
    return summaries, failures


@flow(
    name="zoho-export",
    description="Full or incremental export of Zoho CRM / Recruit modules into the warehouse.",
)
def export_flow(
    product: ProductName = "crm",
    modules: list[str] | None = None,
    mode: ExportMode = "incremental",
    credentials: ZohoCredentials | None = None,
    warehouse: WarehouseSettings | None = None,
    overlap_minutes: float = 10.0,
    rest_max_records: int | None = None,
    capture_deletes: bool = True,
) -> list[dict[str, Any]]:
    """Export modules of Zoho CRM or Recruit; incremental runs start at each module's watermark.

    Args:
        product: Which Zoho product the modules belong to.
        modules: Module API names, e.g. Leads, Contacts, Deals (CRM) or Candidates,
            Job_Openings (Recruit); custom modules by API name. Default: Leads.
        mode: full re-reads every record; incremental reads what changed since the last
            loaded Modified_Time (and marks deleted records).
        credentials: The ZohoCredentials block of the organisation. Empty: the worker's
            ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET / ZOHO_REFRESH_TOKEN variables.
        warehouse: A Zoho ETL Warehouse block (URL and data directory). Empty: the worker's
            ZOHO_ETL_WAREHOUSE_URL / ZOHO_ETL_DATA_DIR, else a DuckDB file under ./data.
        overlap_minutes: Incremental runs re-read this many minutes before the watermark,
            so records saved during the last run are not missed (duplicates are merged).
        rest_max_records: A change set (or a small module's full export) up to this size is
            read with the REST API (1 credit per 200 records) instead of a bulk job (50
            credits per page). Empty: as many as cost less than one bulk job (CRM 11,400).
        capture_deletes: Incremental runs also mark records deleted in Zoho since the
            watermark.
    """
    forward_library_logs()
    logger = get_run_logger()
    product = validate_product(product)
    names = [validate_module(product, m) for m in (modules or ["Leads"])]
    settings = flow_settings(warehouse)
    connection = flow_connection(credentials)
    rt = runtime_for(connection, settings)
    rt.budget.check_run(
        estimate_run_credits([1] * len(names)), f"export {product} {', '.join(names)}"
    )
    options = ExportOptions(
        mode=mode,
        overlap=timedelta(minutes=overlap_minutes),
        rest_max_records=rest_max_records,
        capture_deletes=capture_deletes,
    )
    summaries, failures = run_modules(connection, settings, product, names, options)
    publish_export_table(product, summaries)
    for summary in summaries:
        if summary.ok:
            publish_module_details(summary)
            logger.info(
                "%s %s: %s via %s (%s), %d rows loaded, %d rejected, %d deleted, %d credits",
                product,
                summary.module,
                summary.kind,
                summary.method,
                summary.reason,
                summary.rows_loaded,
                summary.rows_rejected,
                summary.deleted,
                summary.credits,
            )
    if failures:
        rows = [s.as_row() for s in summaries]
        return cancelled_or_raise(RunFailedError(f"export {product}", failures, rows))
    return [s.as_row() for s in summaries]
