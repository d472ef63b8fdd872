"""Run one bulk write against the simulator whose result zip is replaced by a hostile file.

``python -m tests.transforms.writeback.hostile_result BOMB.zip`` prints one JSON line: the
error class and code the write ended with, and this process's peak RSS (``ru_maxrss``)
just before the result was downloaded and at the end. Run as its own process so the peak
belongs to this write alone (a test process's earlier peaks would hide it).
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.bulk_write import BulkWriteClient
from engine.writeback.driver import write_table
from simulator.testing import SimServer
from tests.connectors.simhelpers import US, sim_client
from transforms.writeback import FieldMapping, WriteMapping


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HostileResult:
    """The real client, except that each finished job's result zip becomes ``bomb``."""

    def __init__(self, inner: BulkWriteClient, sim: SimServer, bomb: bytes) -> None:
        self.inner, self.sim, self.bomb = inner, sim, bomb
        self.peak_before_download = 0.0

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        return self.inner.upload(zip_bytes, filename)

    def create_job(self, body: Mapping[str, Any]) -> str:
        return self.inner.create_job(body)

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        details = self.inner.wait_for_job(job_id)
        self.sim.state.write_jobs.jobs[job_id].result_zip = self.bomb
        self.peak_before_download = peak_mb()
        return details

    def download_result(self, download_url: str) -> bytes:
        return self.inner.download_result(download_url)


def main(bomb_path: str) -> dict[str, Any]:
    bomb = Path(bomb_path).read_bytes()
    rows = 5
    table = pa.table({"last": [f"B{i}" for i in range(rows)], "company": ["Co"] * rows})
    mapping = WriteMapping(
        "Leads", "insert", (FieldMapping("Last_Name", "last"), FieldMapping("Company", "company"))
    )
    with SimServer() as sim:
        client = sim_client(sim, org_id=US.zgid)
        writer = HostileResult(BulkWriteClient.for_client(client), sim, bomb)
        outcome: dict[str, Any] = {"error": None, "code": None}
        try:
            write_table(table, mapping, client.metadata.fields_by_name("Leads"), writer)
        except Exception as exc:  # the point: which error, classified how
            outcome = {"error": type(exc).__name__, "code": getattr(exc, "code", None)}
        client.close()
    return {**outcome, "peak_before_mb": writer.peak_before_download, "peak_after_mb": peak_mb()}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
