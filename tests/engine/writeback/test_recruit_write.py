"""A Recruit write-back through the CLI: Candidates' status updated from a warehouse table.

Over loopback HTTP to the simulator, from a real ``zoho-etl write --product recruit``
process: every row of the table has exactly one outcome in the per-row results, and the
outcomes are what the simulator holds afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from simulator.testing import SimServer
from tests.engine.writeback.clienv import cli_env

ORG = "us-enterprise"
MAPPING = """\
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


def test_candidate_status_update_through_the_cli_reconciles_exactly(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    store = sim.state.store(ORG, "recruit", "Candidates")
    assert store is not None
    ids = [str(i) for i in next(store.iter_chunks(["Candidate_Status"]))["id"].to_pylist()][:30]
    codes = ["R", "I", "O"] * 10
    codes[7] = "Z"  # not in the value map: rejected before sending
    data = tmp_path / "data"
    data.mkdir()
    with duckdb.connect(str(data / "warehouse.duckdb")) as db:
        db.execute("CREATE TABLE candidate_status (id VARCHAR, status VARCHAR)")
        db.executemany(
            "INSERT INTO candidate_status VALUES (?, ?)", list(zip(ids, codes, strict=True))
        )
    mapping = tmp_path / "candidates.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    command = [sys.executable, "-m", "cli", "write", "table:candidate_status", "--product",
               "recruit", "--mapping", str(mapping), "--simulator", sim.base_url,
               "--data-dir", str(data)]  # fmt: skip
    done = subprocess.run(command, env=cli_env(None, PREFECT_API_URL=prefect_api),
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = pq.read_table(data / "writeback" / "results" / "recruit_Candidates.parquet")
    outcome = dict(zip(results["key"].to_pylist(), results["status"].to_pylist(), strict=True))
    assert results.num_rows == len(outcome) == 30
    assert outcome.pop(ids[7]) == "REJECTED"
    assert set(outcome.values()) == {"UPDATED"}
    names = {"R": "In Review", "I": "Interview", "O": "Offered"}
    for rid, code in zip(ids, codes, strict=True):
        record = sim.state.get_record(ORG, "recruit", "Candidates", rid)
        assert record is not None
        if code in names:
            assert record["Candidate_Status"] == names[code]
    jobs = sim.state.stats.snapshot()["jobs_created"]
    assert jobs == {f"{ORG}/recruit/Candidates#write": 1}
