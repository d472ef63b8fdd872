"""The demo's Zoho Creator part: a report's export, an incremental run, a retention dry run
and the deletion itself, through the Creator flows against the embedded simulator; then a
query over the report's lake table, checked against its warehouse table."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from cli.demo import DemoReport
    from engine.settings import RunSettings, ZohoConnection

APP, FORM, REPORT = "order-desk", "Order", "All_Orders"
ORG = "us-enterprise"
TABLE = "creator_order_desk_All_Orders"
#: the retention the demo runs: closed orders (about a third of them)
CRITERIA = 'Status == "Closed"'
LAKE_QUERY = (
    f"SELECT Status, count(*) AS orders, count(_zoho_deleted_at) AS deleted FROM {TABLE} "
    "GROUP BY ALL ORDER BY orders DESC"
)


def creator_demo(
    console: Console,
    report: DemoReport,
    sim: Any,
    settings: RunSettings,
    connection: ZohoConnection,
    records: int = 5_000,
) -> None:
    """Export order-desk/All_Orders, change a few orders, export again, then delete the
    closed ones (two of them locked, so they fail with 3001 and stay); query the lake table."""
    from cli.demo import DemoRow
    from flows.creator import creator_export_flow, creator_retention_flow
    from simulator.creator.state import creator_state

    creator = creator_state(sim.state)
    creator.configure(records={f"{APP}/{FORM}": records}, job_seconds=(0.1, 0.3))
    runs: list[tuple[str, dict[str, Any]]] = []
    started = time.monotonic()
    console.print(f"[bold]>[/bold] Creator: full export of {APP}/{REPORT} ...")
    runs.append(("creator full", creator_export_flow(app=APP, report=REPORT, mode="full")))
    store = creator.form_store(ORG, APP, FORM)
    base = store.values.base_id
    sim.state.clock.advance(3600)
    for offset in range(1, 21):
        creator.update_record(ORG, APP, FORM, str(base + offset * 7), {"Quantity": "99"})
    creator.insert_record(ORG, APP, FORM, {"Order_Name": "Demo order", "Status": "Open"})
    console.print("  simulator changed 20 orders and added one")
    runs.append(("creator incremental", creator_export_flow(app=APP, report=REPORT)))
    for step, row in runs:
        report.rows.append(
            DemoRow(step, f"creator {APP}/{REPORT} ({row['method']})", rows=row["rows loaded"],
                    rejects=row["rejected"], bulk_jobs=row["bulk jobs"], credits=row["calls"],
                    result=row["status"])
        )  # fmt: skip
    closed = [r["ID"] for r in _closed(store)][:2]
    creator.lock_records(ORG, APP, FORM, closed)
    dry = creator_retention_flow(app=APP, report=REPORT, criteria=CRITERIA, dry_run=True)
    done = creator_retention_flow(app=APP, report=REPORT, criteria=CRITERIA, dry_run=False)
    report.rows.append(
        DemoRow("creator retention dry run", f"{APP}/{REPORT} {CRITERIA}",
                rows=dry["matched"], result=dry["result"])
    )  # fmt: skip
    report.rows.append(
        DemoRow("creator retention", f"{APP}/{REPORT} {CRITERIA}", rows=done["matched"],
                deleted=done["deleted"], rejects=done["failed"], credits=done["delete calls"],
                result=done["result"])
    )  # fmt: skip
    report.checks.append(
        f"creator: {done['deleted']} closed orders deleted in {done['delete calls']} calls, "
        f"{done['failed']} locked ones reported (3001) and kept; deleted ids are in the "
        "zoho_etl.creator_deletions audit table and stamped _zoho_deleted_at in "
        "creator_order_desk_All_Orders"
    )
    _lake_query(console, report, settings, connection)
    console.print(f"  done in {time.monotonic() - started:.1f} s")


def _lake_query(
    console: Console, report: DemoReport, settings: RunSettings, connection: ZohoConnection
) -> None:
    """The report's lake table through `zoho-etl query`: its rows and deletion stamps must
    equal the warehouse table's."""
    from cli.demo import DemoRow
    from cli.lake import run_query
    from engine.runtime import runtime_for

    rows = run_query(settings, "creator", TABLE, LAKE_QUERY).to_pylist()
    in_lake = (sum(int(r["orders"]) for r in rows), sum(int(r["deleted"]) for r in rows))
    rt = runtime_for(connection, settings)
    with rt.load_lock:
        stored = rt.warehouse.read_table(TABLE)
    in_warehouse = (stored.num_rows, stored.num_rows - stored["_zoho_deleted_at"].null_count)
    console.print(
        f'  zoho-etl query {TABLE} --product creator "{LAKE_QUERY}" --data-dir {settings.data_dir}',
        soft_wrap=True,
        markup=False,
    )
    for row in rows:
        status = row["Status"] or "NULL"
        console.print(f"  {status:<12} {row['orders']:>6} ({row['deleted']} deleted)")
    same = in_lake == in_warehouse
    report.rows.append(
        DemoRow("query", f"lake creator/{TABLE}", rows=in_lake[0], deleted=in_lake[1],
                result="ok" if same else "FAILED")
    )  # fmt: skip
    report.checks.append(
        f"lake creator/{TABLE}: {in_lake[0]} rows, {in_lake[1]} stamped _zoho_deleted_at, "
        f"{'matches' if same else 'DIFFERS from'} the warehouse table {in_warehouse}"
    )


def _closed(store: Any) -> list[dict[str, Any]]:
    rows = (store.row(i) for i in range(min(len(store), 200)))
    return [r for r in rows if r.get("Status") == "Closed"]
