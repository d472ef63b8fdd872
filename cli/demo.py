"""``zoho-etl demo``: the whole round trip against the embedded simulator, in a few minutes.

1. start the simulator in this process (small pages, so exports take several bulk jobs);
2. full export of CRM (Leads, Contacts, Accounts, Deals) and Recruit (Candidates,
   Job_Openings, Interviews);
3. the simulator modifies, inserts and deletes some Leads and Contacts; an incremental export
   brings the warehouse back in line (REST for the small delta, deletions marked), checked
   against the simulator id by id;
4. a backfill of Deals by date windows (windows too big for one page are split);
5. write-backs (``cli.demo_writeback``): new Leads from a Parquet file with a mapping that
   has defaults, a few rows deliberately invalid (dry-run first, then the real bulk write);
   new Deals with their line items in one parent/child write (one Deal over the 200 items
   limit); Recruit Candidates' status updated from a query on the warehouse;
6. Zoho Creator (``cli.demo_creator``): a report's full and incremental export, a retention
   dry run and delete, a query over the report's lake table checked against the warehouse;
   then a query over the Leads lake table (`zoho-etl query`), checked against the warehouse;
7. a summary table, where the files are, and a query to paste.

Everything lands under ``./data/demo`` (wiped at the start).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from cli.reporting import make_console
from engine.modules import ProductName
from engine.runtime import runtime_for
from engine.settings import RunSettings, ZohoConnection
from flows.connection import run_overrides

DEMO_MAPPING = """\
module: Leads
operation: insert
key: lead_no
fields:
  - {source: last_name, api_name: Last_Name}
  - {source: company, api_name: Company}
  - {source: email, api_name: Email}
  - {source: status, api_name: Lead_Status, values: {N: Not Contacted, Q: Qualified}}
  - {api_name: Lead_Source, default: Trade Show}
  - {source: rating, api_name: Rating, default: Active}
"""


def demo_rows() -> pa.Table:
    """Twenty new Leads; rows 5, 11 and 17 are deliberately invalid."""
    rows = []
    for i in range(1, 21):
        rows.append(
            {
                "lead_no": f"L-{i:03d}",
                "last_name": f"Writeback {i}",
                "company": f"Demo Company {i}",
                "email": f"lead{i}@example.com",
                "status": "Q" if i % 2 else "N",
                "rating": None if i % 3 else "Acquired",
            }
        )
    rows[4]["last_name"] = None  # mandatory Last_Name missing
    rows[10]["email"] = "not-an-email"  # invalid email
    rows[16]["rating"] = "Fantastic"  # not a Rating picklist value
    return pa.Table.from_pylist(rows)


CRM_MODULES = ["Leads", "Contacts", "Accounts", "Deals"]
RECRUIT_MODULES = ["Candidates", "Job_Openings", "Interviews"]
SIM_ORG = "us-enterprise"


@dataclass
class DemoRow:
    step: str
    target: str
    rows: int | str = "-"
    rejects: int | str = "-"
    deleted: int | str = "-"
    bulk_jobs: int | str = "-"
    credits: int | str = "-"
    result: str = "ok"


@dataclass
class DemoReport:
    rows: list[DemoRow] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> Table:
        table = Table(title="zoho-etl demo: what happened")
        for name in ("step", "target"):
            table.add_column(name, justify="left")
        for name in ("rows", "rejects", "deleted", "bulk jobs", "credits"):
            table.add_column(name, justify="right")
        table.add_column("result", justify="left")
        for r in self.rows:
            table.add_row(*(str(value) for value in astuple(r)))
        return table


@contextmanager
def _step(console: Console, what: str) -> Iterator[None]:
    started = time.monotonic()
    console.print(f"[bold]>[/bold] {what} ...")
    yield
    console.print(f"  done in {time.monotonic() - started:.1f} s")


def run_demo(
    data_dir: Path = Path("data/demo"),
    *,
    console: Console | None = None,
    records_scale: float = 1.0,
) -> DemoReport:
    """Run the demo; returns what it did (also printed)."""
    from engine.simulated import sim_config, simulated_connection
    from simulator.testing import SimServer

    console = console or make_console()
    started = time.monotonic()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    report = DemoReport()
    # Zoho allows 10 result downloads a minute; the demo's ~25 pages in a couple of minutes
    # need more, so its simulator allows 600 (a real org would wait instead).
    config = sim_config(
        per_page=max(int(1000 * records_scale), 50),
        job_seconds=(0.2, 0.5),
        downloads_per_minute=600,
    )
    if records_scale != 1.0:
        from dataclasses import replace

        config = replace(
            config, records={k: max(int(v * records_scale), 20) for k, v in config.records.items()}
        )
    settings = RunSettings(
        data_dir=str(data_dir),
        concurrency=4,
        poll_interval_s=0.1,
        poll_max_interval_s=0.5,
        downloads_per_minute=600,
    )
    with SimServer(config) as sim:
        console.print(f"Zoho simulator running at {sim.base_url}")
        connection = simulated_connection(sim.base_url, SIM_ORG)
        with run_overrides(settings=settings, connection=connection):
            _run_steps(console, report, settings, connection, sim)
        report.seconds = time.monotonic() - started
        _print_summary(console, report, settings)
    return report


def _run_steps(
    console: Console,
    report: DemoReport,
    settings: RunSettings,
    connection: ZohoConnection,
    sim: Any,
) -> None:
    """The flows of the demo, which get the simulator's connection from `run_overrides`."""
    _full_exports(console, report, settings, sim.base_url)
    _incremental(console, report, connection, settings, sim)
    _backfill(console, report, settings, sim)
    from cli.demo_writeback import run_writebacks

    run_writebacks(console, report, settings, sim)
    from cli.demo_creator import creator_demo

    creator_demo(console, report, sim, settings, connection)
    _lake_query(console, report, settings, connection)


def _export_rows(step: str, rows: list[dict[str, Any]], report: DemoReport) -> None:
    for row in rows:
        report.rows.append(
            DemoRow(
                step=step,
                target=f"{row['product']} {row['module']} ({row['method']})",
                rows=row["rows loaded"],
                rejects=row["rejected"],
                deleted=row["deleted"],
                bulk_jobs=row["bulk jobs"],
                credits=row["credits"],
                result=row["status"],
            )
        )


def _full_exports(
    console: Console, report: DemoReport, settings: RunSettings, base_url: str
) -> None:
    from flows.export import export_flow

    runs: tuple[tuple[ProductName, list[str]], ...] = (
        ("crm", CRM_MODULES),
        ("recruit", RECRUIT_MODULES),
    )
    for product, modules in runs:
        with _step(console, f"full export of {product} {', '.join(modules)}"):
            rows = export_flow(product=product, modules=modules, mode="full")
        _export_rows("full export", rows, report)


def _incremental(
    console: Console,
    report: DemoReport,
    connection: ZohoConnection,
    settings: RunSettings,
    sim: Any,
) -> None:
    from flows.export import export_flow

    rng = random.Random(7)
    changes = []
    for module, field_name in (("Leads", "Description"), ("Contacts", "Description")):
        store = sim.state.store(SIM_ORG, "crm", module)
        ids = [str(i) for i in next(store.iter_chunks(["Modified_Time"]))["id"].to_pylist()]
        picked = rng.sample(ids, 40)
        for record_id in picked[:30]:
            sim.state.update_record(
                SIM_ORG, "crm", module, record_id, {field_name: "changed by the demo, ünïcødé"}
            )
        for record_id in picked[30:]:
            sim.state.delete_record(SIM_ORG, "crm", module, record_id)
        changes.append(f"{module}: 30 modified, 10 deleted")
    new_lead = sim.state.insert_record(
        SIM_ORG, "crm", "Leads", {"Last_Name": "Inserted", "Company": "Demo GmbH"}
    )
    console.print(f"  simulator changed records ({'; '.join(changes)}; inserted Lead {new_lead})")
    with _step(console, "incremental export of crm Leads, Contacts"):
        rows = export_flow(
            product="crm",
            modules=["Leads", "Contacts"],
            mode="incremental",
        )
    _export_rows("incremental", rows, report)
    for module in ("Leads", "Contacts"):
        report.checks.append(_compare_live_ids(connection, settings, sim, module))


def _compare_live_ids(
    connection: ZohoConnection, settings: RunSettings, sim: Any, module: str
) -> str:

    rt = runtime_for(connection, settings)
    store = sim.state.store(SIM_ORG, "crm", module)
    expected: dict[str, str] = {}
    for chunk in store.iter_chunks(["Modified_Time"]):
        for rid, modified in zip(
            chunk["id"].to_pylist(), chunk["Modified_Time"].to_pylist(), strict=True
        ):
            expected[str(rid)] = str(modified)
    with rt.load_lock:
        live = rt.warehouse.connection.execute(  # type: ignore[attr-defined]
            f'SELECT id FROM "crm_{module}" WHERE _zoho_deleted_at IS NULL'
        ).fetchall()
    got = {str(r[0]) for r in live}
    verdict = "matches" if got == set(expected) else "DIFFERS from"
    return (
        f"warehouse crm_{module}: {len(got)} live rows, {verdict} the simulator ({len(expected)})"
    )


def _backfill(console: Console, report: DemoReport, settings: RunSettings, sim: Any) -> None:
    from datetime import UTC, datetime

    from flows.backfill import backfill_flow

    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    # Smaller simulated pages for the backfill, so some windows overflow one page and split.
    sim.state.configure(per_page=150)
    with _step(console, "backfill of crm Deals 2024-01-01 .. 2026-01-01 in 180-day windows"):
        rows = backfill_flow(
            product="crm",
            module="Deals",
            start=start,
            end=end,
            window_days=180,
        )
    loaded = sum(int(r.get("rows loaded", 0)) for r in rows)
    splits = sum(int(r.get("split into", 0)) > 0 for r in rows)
    report.rows.append(
        DemoRow(
            step="backfill",
            target=f"crm Deals ({len(rows)} windows, {splits} split; {_methods(rows)})",
            rows=loaded,
            rejects=sum(int(r.get("rejected", 0)) for r in rows),
            bulk_jobs=sum(int(r.get("bulk jobs", 0)) for r in rows),
            credits=sum(int(r.get("credits", 0)) for r in rows),
        )
    )


def _methods(rows: list[dict[str, Any]]) -> str:
    """How the windows were read: ``REST 4, bulk 1`` (each row's reason is in the artifact)."""
    counts = {m: sum(r.get("method") == m for r in rows) for m in ("rest", "bulk")}
    return ", ".join(f"{m.upper() if m == 'rest' else m} {n}" for m, n in counts.items() if n)


LAKE_QUERY = (
    "SELECT Lead_Status, count(*) AS leads FROM Leads "
    "WHERE _zoho_deleted_at IS NULL GROUP BY ALL ORDER BY leads DESC"
)


def _lake_query(
    console: Console, report: DemoReport, settings: RunSettings, connection: ZohoConnection
) -> None:
    """The demo's last step: a query over the Leads lake table, as `zoho-etl query` runs it;
    its live count must equal the warehouse's."""
    from cli.lake import run_query

    with _step(console, "query the Leads lake table"):
        rows = run_query(settings, "crm", "Leads", LAKE_QUERY).to_pylist()
        live = sum(int(r["leads"]) for r in rows)
        rt = runtime_for(connection, settings)
        with rt.load_lock:
            stored = rt.warehouse.read_table("crm_Leads")
        stored_live = stored["_zoho_deleted_at"].null_count
        console.print(f'  zoho-etl query Leads "{LAKE_QUERY}" --data-dir {settings.data_dir}')
        for row in rows:
            console.print(f"  {row['Lead_Status'] or 'NULL':<24} {row['leads']:>6}")
    same = live == stored_live
    report.rows.append(
        DemoRow("query", "lake crm/Leads", rows=live, result="ok" if same else "FAILED")
    )
    report.checks.append(
        f"lake crm/Leads: {live} live rows, "
        f"{'matches' if same else 'DIFFERS from'} warehouse crm_Leads ({stored_live})"
    )


def _print_summary(console: Console, report: DemoReport, settings: RunSettings) -> None:
    console.print()
    console.print(report.table())
    for check in report.checks:
        console.print(f"check: {check}")
    warehouse = _relative(settings.effective_warehouse_url.removeprefix("duckdb:///"))
    console.print(f"Lake tables:       {settings.lake_root}/<product>/<module>/ (Delta)")
    console.print(f"DuckDB warehouse:  {warehouse}")
    console.print(f"Rejected rows:     {settings.rejects_root}/")
    query = (
        "SELECT Lead_Source, count(*) AS leads FROM crm_Leads\n"
        "WHERE _zoho_deleted_at IS NULL GROUP BY 1 ORDER BY 2 DESC;\n"
    )
    query_file = settings.data_path / "try-this-query.sql"
    query_file.write_text(query, encoding="utf-8")
    console.print(f"Try this query (also in {_relative(str(query_file))}):")
    command = (
        f".venv/bin/python -c \"import duckdb; print(duckdb.connect('{warehouse}', "
        f"read_only=True).sql(open('{_relative(str(query_file))}').read()))\""
    )
    console.print(f"  {command}", soft_wrap=True, markup=False, highlight=False)
    console.print("  or: .venv/bin/zoho-etl status --data-dir " + settings.data_dir)
    console.print(f"demo finished in {report.seconds:.0f} s")


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path
