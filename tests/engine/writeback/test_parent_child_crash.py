"""Kill a real ``zoho-etl write`` of a parent/child mapping (SIGKILL at a failpoint).

After the upload (file id saved, no job yet) and after the job was created (job id
saved), the re-run must finish the same write: one bulk write job in all, every parent
and child written once, children linked to their parents.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.testing import SimServer
from tests.engine.writeback.clienv import cli_env

ORG = "us-enterprise"
PARENTS = 30
MAPPING = """\
module: Deals
operation: insert
key: ref
parent_key: ref
fields:
  - {source: name, api_name: Deal_Name}
  - {api_name: Stage, default: Proposal}
  - {api_name: Closing_Date, default: "2026-04-01"}
children:
  - module: Deal_Line_Items
    operation: insert
    parent_key: deal
    source: ITEMS
    fields:
      - {source: product, api_name: Product_Name}
"""


@pytest.fixture
def command(sim: SimServer, tmp_path: Path) -> list[str]:
    refs = [f"K{i:03d}" for i in range(PARENTS)]
    pq.write_table(pa.table({"ref": refs, "name": [f"Crash deal {r}" for r in refs]}),
                   tmp_path / "deals.parquet")  # fmt: skip
    deal = [r for i, r in enumerate(refs) for _ in range(i % 4)]
    pq.write_table(pa.table({"deal": deal, "product": [f"{d}/{k}" for k, d in enumerate(deal)]}),
                   tmp_path / "items.parquet")  # fmt: skip
    mapping = tmp_path / "deals.yaml"
    mapping.write_text(MAPPING.replace("ITEMS", str(tmp_path / "items.parquet")), "utf-8")
    source, data = str(tmp_path / "deals.parquet"), str(tmp_path / "data")
    return [sys.executable, "-m", "cli", "write", source, "--mapping", str(mapping),
            "--simulator", sim.base_url, "--data-dir", data]  # fmt: skip


def write_jobs(sim: SimServer) -> int:
    created = sim.state.stats.snapshot()["jobs_created"]
    return sum(int(v) for k, v in created.items() if k.endswith("#write"))


def records(sim: SimServer, module: str) -> list[dict[str, object]]:
    store = sim.state.store(ORG, "crm", module)
    assert store is not None
    rows: list[dict[str, object]] = []
    for chunk in store.iter_chunks(["Parent_Id", "Product_Name"] if module != "Deals" else
                                   ["Deal_Name"]):  # fmt: skip
        rows.extend(chunk.to_pylist())
    return rows


@pytest.mark.parametrize(("point", "jobs_at_kill"), [("write-uploaded", 0),
                                                     ("write-job-created", 1)])  # fmt: skip
def test_a_killed_parent_child_write_resumes_with_one_job(
    prefect_api: str, sim: SimServer, command: list[str], point: str, jobs_at_kill: int
) -> None:
    deals_before = len(records(sim, "Deals"))
    env = cli_env(point, PREFECT_API_URL=prefect_api)
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                            check=False)  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert write_jobs(sim) == jobs_at_kill
    again = subprocess.run(command, env=cli_env(None, PREFECT_API_URL=prefect_api),
                           capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert write_jobs(sim) == 1
    deals = {str(r["id"]): r["Deal_Name"] for r in records(sim, "Deals")}
    assert len(deals) - deals_before == PARENTS
    ours = {i: str(n) for i, n in deals.items() if str(n).startswith("Crash deal ")}
    assert sorted(ours.values()) == sorted(f"Crash deal K{i:03d}" for i in range(PARENTS))
    items = records(sim, "Deal_Line_Items")
    mine = [r for r in items if str(r["Product_Name"]).startswith("K")]
    assert len(mine) == sum(i % 4 for i in range(PARENTS))
    assert len({r["Product_Name"] for r in mine}) == len(mine)  # none written twice
    for item in mine:
        assert ours[str(item["Parent_Id"])] == f"Crash deal {str(item['Product_Name'])[:4]}"
    assert "crm_Deal_Line_Items.parquet" in again.stdout  # per-row results of the children
