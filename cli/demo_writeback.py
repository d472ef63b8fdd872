"""The write-back steps of ``zoho-etl demo``: CRM Leads, a parent/child write, Recruit.

1. 20 new Leads from a Parquet file (three rows deliberately invalid): dry run, then the
   bulk write;
2. 41 new Deals with their line items (``Deal_Line_Items`` subform rows) from two Parquet
   files and one parent/child mapping: dry run, then the bulk write. One Deal has 201
   line items, over Zoho's 200 per parent: it and its items are rejected before sending.
   Afterwards every line item in the simulator is checked against its Deal;
3. a Recruit update: the status of 25 Candidates from a query on the exported
   ``recruit_Candidates`` table (one code not in the value map), checked in the simulator.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from cli.demo import DEMO_MAPPING, SIM_ORG, DemoReport, DemoRow, demo_rows
from engine.settings import RunSettings
from engine.writeback.summary import WriteSummary

DEALS_MAPPING = """\
module: Deals
operation: insert
key: ref
parent_key: ref
fields:
  - {source: name, api_name: Deal_Name}
  - {source: stage, api_name: Stage, values: {Q: Qualification, P: Proposal}}
  - {api_name: Closing_Date, default: "2026-06-30"}
children:
  - module: Deal_Line_Items
    operation: insert
    key: line
    parent_key: deal
    source: ITEMS
    fields:
      - {source: product, api_name: Product_Name}
      - {source: qty, api_name: Quantity}
      - {api_name: Unit_Price, default: "9.50"}
"""

CANDIDATE_STATUS_MAPPING = """\
module: Candidates
operation: update
find_by: id
key: id
fields:
  - {source: id, api_name: id}
  - source: status
    api_name: Candidate_Status
    values: {R: In Review, I: Interview, O: Offered}
"""

#: 25 exported Candidates get a new status; the fifth's code is not in the value map.
CANDIDATE_STATUS_SQL = (
    "sql:SELECT CAST(id AS VARCHAR) AS id, CASE WHEN n = 5 THEN 'Z' WHEN n % 3 = 0 THEN 'R' "
    "WHEN n % 3 = 1 THEN 'I' ELSE 'O' END AS status FROM (SELECT id, row_number() OVER "
    "(ORDER BY id) AS n FROM recruit_Candidates WHERE _zoho_deleted_at IS NULL) WHERE n <= 25"
)
STATUS_NAMES = {"R": "In Review", "I": "Interview", "O": "Offered"}
LINES_PER_DEAL = 6  # deal i has i % 6 line items; the last deal has 201


def demo_deals() -> tuple[pa.Table, pa.Table]:
    """41 Deals and their line items; deal DEMO-41 has 201 (one over Zoho's limit)."""
    refs = [f"DEMO-{i:02d}" for i in range(1, 42)]
    deals = pa.table({"ref": refs, "name": [f"Demo deal {r}" for r in refs],
                      "stage": ["Q" if i % 2 else "P" for i in range(41)]})  # fmt: skip
    counts = [i % LINES_PER_DEAL for i in range(1, 41)] + [201]
    deal = [r for r, n in zip(refs, counts, strict=True) for _ in range(n)]
    items = pa.table({"line": [f"L{k:04d}" for k in range(len(deal))], "deal": deal,
                      "product": [f"{d} item {k}" for k, d in enumerate(deal)],
                      "qty": [k % 5 + 1 for k in range(len(deal))]})  # fmt: skip
    return deals, items


def run_writebacks(console: Console, report: DemoReport, settings: RunSettings, sim: Any) -> None:
    """The three write-backs, each a row (per module) of the demo's summary table."""
    folder = settings.data_path / "writeback" / "input"
    folder.mkdir(parents=True, exist_ok=True)
    leads = folder / "new_leads.parquet"
    pq.write_table(demo_rows(), leads)
    leads_mapping = _mapping(folder / "new_leads.mapping.yaml", DEMO_MAPPING)
    for dry in (True, False):
        _write(console, report, "crm", leads_mapping, str(leads), dry, "write-back")
    deals, items = demo_deals()
    pq.write_table(deals, folder / "new_deals.parquet")
    pq.write_table(items, folder / "new_deal_items.parquet")
    deals_mapping = _mapping(
        folder / "new_deals.mapping.yaml",
        DEALS_MAPPING.replace("ITEMS", str(folder / "new_deal_items.parquet")),
    )
    for dry in (True, False):
        summary = _write(console, report, "crm", deals_mapping, str(folder / "new_deals.parquet"),
                         dry, "parent/child")  # fmt: skip
    report.checks.append(_check_line_items(sim, summary))
    status = _mapping(folder / "candidate_status.mapping.yaml", CANDIDATE_STATUS_MAPPING)
    summary = _write(console, report, "recruit", status, CANDIDATE_STATUS_SQL, False, "write-back")
    report.checks.append(_check_candidates(sim, summary))
    report.checks.append(
        f"write-back results: {settings.data_path / 'writeback' / 'results'} and warehouse "
        "tables writeback_crm_Leads, writeback_crm_Deals, writeback_crm_Deal_Line_Items, "
        "writeback_recruit_Candidates"
    )


def _mapping(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _write(
    console: Console,
    report: DemoReport,
    product: str,
    mapping: str,
    source: str,
    dry: bool,
    step: str,
) -> WriteSummary:
    from flows.writeback import writeback_flow

    name = Path(mapping).name.removesuffix(".mapping.yaml").replace("_", " ")
    console.print(
        f"[bold]>[/bold] {step} of {product} {name} ({'dry run' if dry else 'bulk write'}) ..."
    )
    summary: WriteSummary = writeback_flow(  # type: ignore[call-overload]
        product=product, mapping_path=mapping, source=source, dry_run=dry
    )
    for part in summary.modules:
        counts = part.counts
        role = "" if not summary.children else (" child" if part is not summary else " parent")
        report.rows.append(
            DemoRow(
                step=f"{step} dry run" if dry else step,
                target=f"{product} {part.module} ({part.operation}{role})",
                rows=counts.get("rows", "-"),
                rejects=counts.get("rejected", "-"),
                bulk_jobs=0 if dry else part.jobs,
                credits=part.credits,
                result=", ".join(f"{k} {v}" for k, v in counts.items() if k != "rows" and v),
            )
        )
    return summary


def _check_line_items(sim: Any, summary: WriteSummary) -> str:
    """Every line item written is in the simulator under the Deal its row named."""
    deals = pq.read_table(summary.results_parquet or "")
    ids = {r["record_id"]: r["key"] for r in deals.to_pylist() if r["record_id"]}
    store = sim.state.store(SIM_ORG, "crm", "Deal_Line_Items")
    linked: Counter[str] = Counter()
    for chunk in store.iter_chunks(["Parent_Id"]):
        for parent in chunk["Parent_Id"].to_pylist():
            if str(parent) in ids:
                linked[ids[str(parent)]] += 1
    expected = Counter({f"DEMO-{i:02d}": i % LINES_PER_DEAL for i in range(1, 41)})
    verdict = "each under its Deal" if linked == +expected else "NOT all under their Deal"
    return (
        f"simulator Deal_Line_Items: {sum(linked.values())} line items of 40 new Deals, "
        f"{verdict}; DEMO-41 (201 items) rejected before sending"
    )


def _check_candidates(sim: Any, summary: WriteSummary) -> str:
    """Every UPDATED Candidate holds its new status in the simulator."""
    results = pq.read_table(summary.results_parquet or "").to_pylist()
    updated = [r["key"] for r in results if r["status"] == "UPDATED"]
    statuses = {
        str(sim.state.get_record(SIM_ORG, "recruit", "Candidates", rid)["Candidate_Status"])
        for rid in updated
    }
    verdict = "hold" if statuses <= set(STATUS_NAMES.values()) else "do NOT all hold"
    return f"simulator Candidates: {len(updated)} updated statuses {verdict} the new values"
