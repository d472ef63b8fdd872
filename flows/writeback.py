"""The write-back flow: a source table + a mapping file -> dry-run or a real bulk write.

Sources (``source``): a Parquet file or directory (``path/to/rows.parquet``), a warehouse
table (``table:crm_Leads_new``) or a SQL query against the warehouse (``sql:SELECT ...``).
The dry run validates every row against the module's field metadata and costs no write
credits; the real run spends 500 credits per job (checked against the budget first), sends
only valid rows, and stores the per-row result table (ADDED / UPDATED / SKIPPED / FAILED /
REJECTED with Zoho's errors) as Parquet and as a warehouse table.
A killed write resumes from its state directory without sending rows twice.
"""

from __future__ import annotations

import logging
from typing import Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from engine.modules import ProductName, validate_product
from engine.writeback.run import WriteSummary, run_write
from flows.artifacts import publish_write_artifacts
from flows.blocks import WarehouseSettings, ZohoCredentials
from flows.cancellation import cancelled_or_raise
from flows.connection import flow_connection, flow_settings
from flows.run_logging import forward_library_logs

log = logging.getLogger("flows.writeback")

OnInvalid = Literal["send_valid", "stop"]


bulk_write_task = task(name="bulk-write", cache_policy=NO_CACHE)(run_write)


@flow(
    name="zoho-write-back",
    description="Validate rows against a module's fields and bulk-write them into Zoho.",
)
def writeback_flow(
    product: ProductName,
    mapping_path: str,
    source: str,
    dry_run: bool = True,
    on_invalid: OnInvalid = "send_valid",
    credentials: ZohoCredentials | None = None,
    warehouse: WarehouseSettings | None = None,
    attach_jobs: dict[int, str] | None = None,
    invalid_rows_csv: bool = False,
) -> WriteSummary:
    """Validate rows against the module's field metadata and, unless a dry run, write them.

    Args:
        product: Which Zoho product the module belongs to.
        mapping_path: The mapping file (YAML): module, operation, key and fields, relative
            to the working directory of the run. A mapping with children is a parent/child
            write (CRM): source holds the parent rows, each child names its own source.
        source: The rows: a Parquet file or directory, table:NAME (a warehouse table) or
            sql:SELECT ... (a query on the warehouse).
        dry_run: Validate only: no upload, no write credits (500 per bulk-write job).
        on_invalid: send_valid writes the valid rows and reports the others as REJECTED;
            stop sends nothing when any row is invalid.
        credentials: The ZohoCredentials block of the organisation. Empty: the worker's
            ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET / ZOHO_REFRESH_TOKEN variables.
        warehouse: A Zoho ETL Warehouse block (URL and data directory). Empty: the worker's
            ZOHO_ETL_WAREHOUSE_URL / ZOHO_ETL_DATA_DIR, else a DuckDB file under ./data.
        attach_jobs: Only to finish a write whose job id a crash lost: chunk number -> the
            bulk write job id Zoho's import history shows for it.
        invalid_rows_csv: A dry run writes its invalid rows (key, column, value, reason)
            to Parquet under the data directory; also write them as CSV beside it.
    """
    forward_library_logs()
    product = validate_product(product)
    settings = flow_settings(warehouse)
    connection = flow_connection(credentials)
    name = "bulk-write (dry run)" if dry_run else "bulk-write"
    try:
        summary: WriteSummary = bulk_write_task.with_options(task_run_name=name)(
            connection,
            settings,
            product,
            mapping_path,
            source,
            dry_run,
            on_invalid,
            attach_jobs,
            invalid_rows_csv,
        )
    except Exception as error:  # Ctrl-C: the run ends Cancelled (flows.cancellation)
        return cancelled_or_raise(error)
    for part in summary.modules:
        publish_write_artifacts(part)
    log.info(summary.describe())
    return summary
