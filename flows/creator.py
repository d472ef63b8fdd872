"""Prefect flows for Zoho Creator: a report's export and its retention deletes.

Thin wrappers over ``engine.creator_export`` and ``engine.retention``: the flow resolves the
connection and settings (blocks, caller overrides or the worker's environment), runs one
named task, publishes a table artifact and returns the result row. Re-running after a crash
resumes from the job ledger in both cases. The Creator account's plan, users and time zone
(the daily Developer API allowance) come from the worker's ``ZOHO_CREATOR_*`` variables.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from engine.creator_export import CreatorExportOptions, export_creator_report
from engine.creator_source import CreatorSettings
from engine.retention import check_criteria, retention_for_report
from engine.runtime import runtime_for
from engine.settings import RunSettings, ZohoConnection
from flows.artifacts import artifact_key, publish_table
from flows.blocks import WarehouseSettings, ZohoCredentials
from flows.cancellation import cancelled_or_raise
from flows.connection import flow_connection, flow_settings
from flows.run_logging import forward_library_logs


@task(
    name="creator-export",
    task_run_name="export creator {app}/{report}",
    cache_policy=NO_CACHE,
)
def creator_export_task(
    connection: ZohoConnection,
    settings: RunSettings,
    creator: CreatorSettings,
    app: str,
    report: str,
    options: CreatorExportOptions,
) -> dict[str, Any]:
    rt = runtime_for(connection, settings)
    summary = export_creator_report(rt, app, report, creator=creator, options=options)
    row = {**summary.as_row(), "table": summary.table, "reason": summary.reason}
    row["calls"] = row.pop("credits")
    return row


@task(
    name="creator-retention",
    task_run_name="{mode} creator {app}/{report}",
    cache_policy=NO_CACHE,
)
def creator_retention_task(
    connection: ZohoConnection,
    settings: RunSettings,
    creator: CreatorSettings,
    app: str,
    report: str,
    criteria: str,
    mode: str,
    allow_all: bool,
) -> dict[str, Any]:
    rt = runtime_for(connection, settings)
    result = retention_for_report(
        rt, app, report, criteria, creator=creator, dry_run=mode == "dry-run",
        allow_all=allow_all,
    )  # fmt: skip
    return {**result.as_row(), "failed ids": [f[0] for f in result.failed][:50]}


@flow(
    name="zoho-creator-export",
    description="Full or incremental export of a Zoho Creator report into the warehouse.",
)
def creator_export_flow(
    app: str,
    report: str,
    mode: Literal["full", "incremental"] = "incremental",
    owner: str | None = None,
    credentials: ZohoCredentials | None = None,
    warehouse: WarehouseSettings | None = None,
    overlap_minutes: float = 10.0,
    rest_max_records: int = 5_000,
) -> dict[str, Any]:
    """Export one Creator report into the table creator_{app}_{report}.

    Args:
        app: The application's link name, e.g. order-desk.
        report: The report's link name, e.g. All_Orders.
        mode: full re-reads every record by bulk read; incremental reads what changed since
            the last loaded Modified_Time (a first run is full).
        owner: The account owner (workspace) name. Empty: the worker's ZOHO_CREATOR_OWNER,
            else found from the applications list when the app name is unique.
        credentials: A ZohoCredentials block whose refresh token has the ZohoCreator scopes.
            Empty: the worker's ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET / ZOHO_REFRESH_TOKEN.
        warehouse: A Zoho ETL Warehouse block. Empty: the worker's ZOHO_ETL_* variables.
        overlap_minutes: Incremental runs re-read this many minutes before the watermark.
        rest_max_records: Past this many changed records an incremental run switches from
            Get Records (1,000 a call) to a bulk read.
    """
    forward_library_logs()
    logger = get_run_logger()
    settings = flow_settings(warehouse)
    connection = flow_connection(credentials)
    creator = CreatorSettings.from_env(owner=owner or None)
    options = CreatorExportOptions(
        mode=mode,
        overlap=timedelta(minutes=overlap_minutes),
        rest_max_records=rest_max_records,
    )
    try:
        row = creator_export_task(connection, settings, creator, app, report, options)
    except Exception as error:  # Ctrl-C: the run ends Cancelled (flows.cancellation)
        return cancelled_or_raise(error)
    publish_table(
        artifact_key("creator-export", app, report), [row], f"Creator export {app}/{report}"
    )
    logger.info("creator %s/%s: %s", app, report, row)
    return row


@flow(
    name="zoho-creator-retention",
    description="Delete the records of a Zoho Creator report that a criteria selects.",
)
def creator_retention_flow(
    app: str,
    report: str,
    criteria: str,
    dry_run: bool = True,
    allow_all: bool = False,
    owner: str | None = None,
    credentials: ZohoCredentials | None = None,
    warehouse: WarehouseSettings | None = None,
) -> dict[str, Any]:
    """Retention: count (dry run) or delete the report's records matching a criteria.

    Args:
        app: The application's link name, e.g. order-desk.
        report: The report's link name, e.g. All_Orders.
        criteria: Creator criteria of the records to delete, in the app's date format, e.g.
            Added_Time < '01-Jan-2024'. Never empty.
        dry_run: Count and list the matching ids without deleting anything.
        allow_all: Allow a criteria that selects every record (ID != 0).
        owner: The account owner (workspace) name. Empty: ZOHO_CREATOR_OWNER, else found.
        credentials: A ZohoCredentials block whose refresh token has ZohoCreator.report.DELETE.
        warehouse: A Zoho ETL Warehouse block; deleted ids get _zoho_deleted_at there.
    """
    forward_library_logs()
    logger = get_run_logger()
    text = check_criteria(criteria, allow_all=allow_all)
    settings = flow_settings(warehouse)
    connection = flow_connection(credentials)
    creator = CreatorSettings.from_env(owner=owner or None)
    mode = "dry-run" if dry_run else "delete"
    row = creator_retention_task(connection, settings, creator, app, report, text, mode, allow_all)
    publish_table(
        artifact_key("creator-retention", app, report),
        [{k: v for k, v in row.items() if k != "failed ids"}],
        f"Creator retention {app}/{report}",
    )
    logger.info("creator retention %s/%s: %s", app, report, row["result"])
    return row
