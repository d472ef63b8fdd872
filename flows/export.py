"""The export flow: full or incremental export of a list of modules of CRM or Recruit.

Modules run concurrently up to ``settings.concurrency`` on the chosen task runner; a module
that fails does not stop the others, and the flow run ends Failed naming each failed module
and why. Re-running after a crash resumes every module from the job ledger.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import publish_export_table, publish_module_details
from flows.errors import RunFailedError
from flows.extracts import ExportMode, ExportOptions
from flows.modules import validate_module, validate_product
from flows.planning import estimate_run_credits
from flows.reporting import ModuleSummary
from flows.runners import build_task_runner
from flows.runtime import runtime_for
from flows.settings import RunSettings, ZohoConnection
from flows.tasks import export_module_task
from flows.zoho import resolve_connection, resolve_settings


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
    with build_task_runner(settings) as runner:
        futures = {
            module: runner.submit(
                export_module_task.with_options(name=f"export {product} {module}"),
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
                summaries.append(
                    ModuleSummary(product, module, kind=options.mode, error=failures[module])
                )
    return summaries, failures


@flow(name="zoho-export", description="Full or incremental export of Zoho modules.")
def export_flow(
    product: str = "crm",
    modules: list[str] | None = None,
    mode: ExportMode = "incremental",
    settings: RunSettings | None = None,
    credentials_block: str | None = None,
    simulator_url: str | None = None,
    sim_org: str | None = None,
    warehouse_block: str | None = None,
    overlap_minutes: float = 10.0,
    rest_max_records: int = 2_000,
    capture_deletes: bool = True,
) -> list[dict[str, Any]]:
    """Export ``modules`` of ``product``; incremental runs start from each module's watermark."""
    logger = get_run_logger()
    product = validate_product(product)
    names = [validate_module(product, m) for m in (modules or ["Leads"])]
    settings = resolve_settings(settings, warehouse_block)
    connection = resolve_connection(
        simulator_url=simulator_url, sim_org=sim_org, credentials_block=credentials_block
    )
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
        raise RunFailedError(f"export {product}", failures)
    return [s.as_row() for s in summaries]
