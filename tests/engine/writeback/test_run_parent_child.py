"""Parent/child write-backs from a mapping file, over loopback HTTP to the simulator."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.bulk_read import BulkReadQuery
from engine.errors import UsageError
from engine.runtime import Runtime
from engine.settings import RunSettings, ZohoConnection
from engine.writeback.run import run_write
from simulator.testing import SimServer
from tests.connectors.simhelpers import csv_rows

ORG = "us-enterprise"
MAPPING = """\
module: Deals
operation: insert
key: ref
parent_key: ref
fields:
  - {source: name, api_name: Deal_Name}
  - {api_name: Stage, default: Qualification}
  - {source: close, api_name: Closing_Date, format: yyyy-MM-dd}
children:
  - module: Deal_Line_Items
    operation: insert
    key: item
    parent_key: deal
    source: CHILDREN
    fields:
      - {source: product, api_name: Product_Name}
      - {source: qty, api_name: Quantity}
"""


def deals(n: int) -> pa.Table:
    refs = [f"D{i:04d}" for i in range(n)]
    return pa.table({"ref": refs, "name": [f"Deal {r}" for r in refs],
                     "close": ["2026-03-01"] * n})  # fmt: skip


def items(per_parent: list[int]) -> pa.Table:
    deal = [f"D{i:04d}" for i, n in enumerate(per_parent) for _ in range(n)]
    return pa.table({"item": [f"I{k}" for k in range(len(deal))], "deal": deal,
                     "product": [f"{d} part {k}" for k, d in enumerate(deal)],
                     "qty": [k % 7 + 1 for k in range(len(deal))]})  # fmt: skip


def write_inputs(tmp_path: Path, parents: pa.Table, children: pa.Table) -> tuple[str, str]:
    pq.write_table(parents, tmp_path / "deals.parquet")
    pq.write_table(children, tmp_path / "items.parquet")
    mapping = tmp_path / "deals.yaml"
    mapping.write_text(MAPPING.replace("CHILDREN", str(tmp_path / "items.parquet")), "utf-8")
    return str(mapping), str(tmp_path / "deals.parquet")


def bulk_read(
    rt: Runtime, module: str, fields: tuple[str, ...], dest: Path
) -> list[dict[str, str]]:
    pages = rt.client("crm").bulk_read.export(BulkReadQuery(module, fields=fields), dest)
    return [row for page in pages for row in csv_rows(page.zip_path)]


def test_a_thousand_parents_with_up_to_200_children_each_are_linked(
    rt: Runtime,
    connection: ZohoConnection,
    settings: RunSettings,
    sim: SimServer,
    tmp_path: Path,
) -> None:
    rng = random.Random(18)
    per_parent = [rng.randint(0, 200) for _ in range(1000)]
    per_parent[:3] = [0, 200, 1]
    mapping, source = write_inputs(tmp_path, deals(1000), items(per_parent))
    summary = run_write(connection, settings, "crm", mapping, source, dry_run=False)
    (child,) = summary.children
    total = sum(per_parent)
    assert summary.counts == {"rows": 1000, "added": 1000, "updated": 0, "skipped": 0,
                              "failed": 0, "rejected": 0}  # fmt: skip
    assert child.counts["added"] == child.counts["rows"] == total
    assert summary.jobs == -(-total // 25_000)  # cut by parent into jobs of <= 25,000 rows
    parents = {r["id"]: r["Deal_Name"] for r in bulk_read(rt, "Deals", ("Deal_Name",), tmp_path)}
    kids = bulk_read(rt, "Deal_Line_Items", ("Parent_Id", "Product_Name"), tmp_path)
    assert len(kids) == total
    linked = Counter(parents[k["Parent_Id"]] for k in kids)
    assert all(k["Product_Name"].startswith(parents[k["Parent_Id"]][5:] + " ") for k in kids)
    assert linked == Counter({f"Deal D{i:04d}": n for i, n in enumerate(per_parent) if n})
    results = pq.read_table(child.results_parquet or "")
    assert results.num_rows == total
    assert set(results.column("status").to_pylist()) == {"ADDED"}


def test_201_children_on_one_parent_are_rejected_before_sending(
    connection: ZohoConnection, settings: RunSettings, sim: SimServer, tmp_path: Path
) -> None:
    mapping, source = write_inputs(tmp_path, deals(3), items([2, 201, 200]))
    dry = run_write(connection, settings, "crm", mapping, source, dry_run=True)
    assert dry.counts == {"rows": 3, "valid": 2, "rejected": 1}
    assert dry.children[0].counts == {"rows": 403, "valid": 202, "rejected": 201}
    assert dry.children[0].issues == {"LIMIT_EXCEEDED-Parent_Id": 201}
    assert "parent key 'D0001' has 201 Deal_Line_Items rows" in dry.row_results[0]["reason"]
    summary = run_write(connection, settings, "crm", mapping, source, dry_run=False)
    assert summary.counts["added"] == 2
    assert summary.counts["rejected"] == 1
    assert summary.children[0].counts["added"] == 202
    store = sim.state.store(ORG, "crm", "Deal_Line_Items")
    assert store is not None
    assert len(store.find("Product_Name", "D0000 part 0")) == 1
    assert store.find("Product_Name", "D0001 part 2") == []  # the crowded parent's child
    assert len(store.find("Product_Name", "D0002 part 203")) == 1
    stats = sim.state.stats.snapshot()["jobs_created"]
    assert sum(v for k, v in stats.items() if k.endswith("#write")) == 1


def test_a_child_without_a_source_and_recruit_are_refused(
    connection: ZohoConnection, settings: RunSettings, tmp_path: Path
) -> None:
    mapping, source = write_inputs(tmp_path, deals(1), items([1]))
    no_source = tmp_path / "no-source.yaml"
    text = Path(mapping).read_text("utf-8")
    no_source.write_text("\n".join(x for x in text.splitlines() if "source: /" not in x), "utf-8")
    with pytest.raises(UsageError, match="child Deal_Line_Items names no source"):
        run_write(connection, settings, "crm", str(no_source), source, dry_run=True)
    with pytest.raises(UsageError, match="parent/child writes are CRM only"):
        run_write(connection, settings, "recruit", mapping, source, dry_run=True)
