"""Benchmark: the connectors download 1,000,000 records (5 bulk read pages) from the simulator.

The simulator runs in its own process (``bench.sim_process``); this process is the client:
``ZohoClient`` creates each job (page 1, then ``next_page_token``), polls it, streams the
zip to disk with a 1 MiB buffer and verifies it (CRC, one CSV, size cap). Reported: wall
time and records/s for the whole export, the download+verify share alone (MB/s), the
client's peak RSS (sampled, and the kernel's high-water mark) against the 300 MB target,
the simulator's peak RSS, and the credits the run used. Afterwards the CSV rows are counted
(outside the timed part) to prove every record arrived.

Run: ``python -m bench.download [--records N] [--per-page N] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil

from bench.harness import PeakRSS, ratio, write_result
from bench.sim_process import sim_process
from connectors.auth import OAuthCredentials
from connectors.bulk_read import BulkReadJob, BulkReadObserver, BulkReadQuery, DownloadedPage
from connectors.bulk_read import PollPolicy as Poll
from connectors.client import ZohoClient
from connectors.datacenters import Endpoints
from connectors.retry import RetryPolicy

TARGET_CLIENT_RSS_MB = 300.0


class Timings(BulkReadObserver):
    """Per page: when the job was created, completed, and its zip verified on disk."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.downloaded: dict[str, float] = {}

    def job_created(self, query: BulkReadQuery, job: BulkReadJob) -> None:
        self.created[job.id] = time.perf_counter()

    def job_completed(self, query: BulkReadQuery, job: BulkReadJob) -> None:
        self.completed[job.id] = time.perf_counter()

    def page_downloaded(self, page: DownloadedPage) -> None:
        self.downloaded[page.job_id] = time.perf_counter()


class OwnRSS(PeakRSS):
    """Peak RSS of this process only: the simulator is our child and must not count."""

    def _sample(self) -> None:
        try:
            self.peak_bytes = max(self.peak_bytes, psutil.Process().memory_info().rss)
        except psutil.NoSuchProcess:
            return


def count_csv_records(zip_path: Path) -> int:
    """Records in a page's CSV, parsed properly (quoted newlines included), streamed."""
    with zipfile.ZipFile(zip_path) as archive, archive.open(archive.namelist()[0]) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        return sum(1 for _ in csv.reader(text)) - 1


def kernel_peak_rss_mb() -> float:
    """This process's lifetime peak RSS (``ru_maxrss`` is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(records: int, per_page: int, workdir: Path) -> dict[str, Any]:
    with sim_process(records={"Leads": records}, per_page=per_page, job_seconds=(0.2, 0.5)) as sim:
        creds = sim.credentials("us-enterprise")
        client = ZohoClient.for_product(
            "crm",
            OAuthCredentials.of(creds["client_id"], creds["client_secret"], creds["refresh_token"]),
            endpoints=Endpoints.for_simulator(sim.base_url, creds["dc"]),
            poll=Poll(initial=0.2, factor=1.5, max_interval=1.0, timeout=600),
            retry=RetryPolicy(max_attempts=6, initial_wait=0.5, max_wait=10),
        )
        timings = Timings()
        rss_before = kernel_peak_rss_mb()
        with client, OwnRSS() as client_rss, PeakRSS(sim.pid) as sim_rss:
            started = time.perf_counter()
            pages = client.bulk_read.export(BulkReadQuery("Leads"), workdir, observer=timings)
            wall = time.perf_counter() - started
            credits = client.meter.report()
        server_stats = sim.stats()
    download_seconds = sum(
        timings.downloaded[p.job_id] - timings.completed[p.job_id] for p in pages
    )
    zip_bytes = sum(p.zip_size for p in pages)
    csv_bytes = sum(p.csv_size for p in pages)
    reported = sum(p.record_count for p in pages)
    count_started = time.perf_counter()
    parsed = sum(count_csv_records(p.zip_path) for p in pages)
    count_seconds = time.perf_counter() - count_started
    client_peak = max(client_rss.peak_mb, kernel_peak_rss_mb())
    return {
        "records_requested": records,
        "per_page": per_page,
        "pages": [
            {
                "page": p.page,
                "job_id": p.job_id,
                "records": p.record_count,
                "zip_bytes": p.zip_size,
                "csv_bytes": p.csv_size,
                "job_seconds": round(timings.completed[p.job_id] - timings.created[p.job_id], 3),
                "download_verify_seconds": round(
                    timings.downloaded[p.job_id] - timings.completed[p.job_id], 3
                ),
            }
            for p in pages
        ],
        "records_reported": reported,
        "records_parsed": parsed,
        "all_records_arrived": reported == parsed == records,
        "wall_seconds": round(wall, 3),
        "records_per_second": round(records / wall, 1),
        "download_verify_seconds": round(download_seconds, 3),
        "download_verify_records_per_second": round(records / download_seconds, 1),
        "download_verify_zip_mb_per_second": round(zip_bytes / 2**20 / download_seconds, 1),
        "download_verify_csv_mb_per_second": round(csv_bytes / 2**20 / download_seconds, 1),
        "download_share_of_wall": ratio(download_seconds, wall),
        "zip_mb": round(zip_bytes / 2**20, 1),
        "csv_mb": round(csv_bytes / 2**20, 1),
        "count_check_seconds": round(count_seconds, 3),
        "client_peak_rss_mb": client_peak,
        "client_rss_before_export_mb": rss_before,
        "client_rss_sampled_peak_mb": client_rss.peak_mb,
        "simulator_peak_rss_mb": sim_rss.peak_mb,
        "target_client_rss_mb": TARGET_CLIENT_RSS_MB,
        "target_met": client_peak < TARGET_CLIENT_RSS_MB,
        "credits_used": credits.used,
        "credits_by_call_type": dict(credits.credits_by_call_type),
        "server_calls": server_stats.get("total_calls"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.download", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the zips in this dir")
    parser.add_argument("--out", type=Path, default=None, help="result JSON path")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.records, args.per_page, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp:
            result = run(args.records, args.per_page, Path(tmp))
    path = write_result("download", result, args.out)
    summary = {
        k: result[k]
        for k in (
            "records_per_second",
            "download_verify_zip_mb_per_second",
            "client_peak_rss_mb",
            "target_met",
            "all_records_arrived",
        )
    }
    print(f"{path}: {summary}")
    return 0 if result["target_met"] and result["all_records_arrived"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
