"""Benchmark: generate and serve 1,000,000 Leads as 5 zipped pages of 200,000.

The simulator runs in its own process (``bench.sim_process``) so its peak RSS is measured
from outside with psutil. A plain ``requests`` client creates each job (page 1, then
``page_token``), polls until COMPLETED and streams the zip to disk. Target: simulator peak
RSS under 500 MB. Run: ``python -m bench.simulator_serve [--records N] [--per-page N]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import requests

from bench.harness import PeakRSS, write_result
from bench.sim_process import sim_process

POLL_SECONDS = 0.2


def _wait(session: requests.Session, url: str) -> tuple[dict[str, Any], int]:
    polls = 0
    while True:
        polls += 1
        detail: dict[str, Any] = session.get(url, timeout=60).json()["data"][0]
        if detail["state"] in ("COMPLETED", "FAILURE"):
            return detail, polls
        time.sleep(POLL_SECONDS)


def _download(session: requests.Session, url: str, dest: Path) -> int:
    size = 0
    with session.get(url, stream=True, timeout=300) as response, dest.open("wb") as out:
        response.raise_for_status()
        for block in response.iter_content(1 << 20):
            out.write(block)
            size += len(block)
    return size


def _csv_rows(path: Path) -> int:
    """CSV lines minus the header (more than the records: quoted cells hold newlines)."""
    with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as entry:
        return sum(1 for _ in entry) - 1


def run(records: int, per_page: int) -> dict[str, Any]:
    pages: list[dict[str, Any]] = []
    with (
        sim_process(records={"Leads": records}, per_page=per_page, job_seconds=(0.1, 0.2)) as sim,
        PeakRSS(sim.pid) as rss,
        tempfile.TemporaryDirectory() as tmp,
        requests.Session() as session,
    ):
        idle_rss = rss.peak_mb
        token, api = sim.access_token()
        session.headers["Authorization"] = f"Zoho-oauthtoken {token}"
        started = time.perf_counter()
        query: dict[str, Any] = {"module": {"api_name": "Leads"}}
        total = 0
        while True:
            page_started = time.perf_counter()
            created = session.post(f"{api}/crm/bulk/v8/read", json={"query": query}, timeout=60)
            created.raise_for_status()
            job_id = created.json()["data"][0]["details"]["id"]
            detail, polls = _wait(session, f"{api}/crm/bulk/v8/read/{job_id}")
            ready = time.perf_counter()
            if detail["state"] != "COMPLETED":
                raise RuntimeError(f"job {job_id} ended {detail['state']}")
            result = detail["result"]
            dest = Path(tmp) / f"{job_id}.zip"
            size = _download(session, api + result["download_url"], dest)
            done = time.perf_counter()
            total += result["count"]
            pages.append(
                {
                    "page": result["page"],
                    "count": result["count"],
                    "zip_bytes": size,
                    "polls": polls,
                    "job_seconds": round(ready - page_started, 3),
                    "download_seconds": round(done - ready, 3),
                    "seconds": round(done - page_started, 3),
                }
            )
            pages[-1]["csv_lines"] = _csv_rows(dest)  # outside the timed span
            dest.unlink()
            if not result["more_records"]:
                break
            query = {"page_token": result["next_page_token"]}
        wall_seconds = time.perf_counter() - started
        total_seconds = sum(p["seconds"] for p in pages)
        stats = sim.stats()
    return {
        "records": records,
        "per_page": per_page,
        "pages": pages,
        "records_served": total,
        "total_seconds": round(total_seconds, 3),
        "wall_seconds_incl_csv_check": round(wall_seconds, 3),
        "records_per_second": round(total / total_seconds, 1),
        "zip_bytes_total": sum(p["zip_bytes"] for p in pages),
        "simulator_idle_rss_mb": idle_rss,
        "simulator_peak_rss_mb": rss.peak_mb,
        "target_peak_rss_mb": 500,
        "within_target": rss.peak_mb < 500,
        "jobs_created": stats["total_jobs"],
        "credits_used": stats["credits_used"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    payload = run(args.records, args.per_page)
    path = write_result("simulator_serve", payload, args.out)
    print(json.dumps(payload, indent=2))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
