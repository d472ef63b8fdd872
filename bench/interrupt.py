"""Ctrl-C latency: how long ``zoho-etl export`` takes to stop after SIGINT during page 2 of 3.

    python -m bench.interrupt [--runs 3] [--out bench/results/interrupt.json]

An in-process simulator serves 2,000 Leads in pages of 700 whose jobs take 4 s. Each run starts
``zoho-etl export Leads --full`` as a user would (its own temporary Prefect server), waits until
Zoho has page 2's job, sends SIGINT and measures, from the signal: the first line on stderr, and
the process's exit (its code must be 130). Target (issue: "exit 130 within 3 s"): the median
exit time <= 3 s. The load average is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import write_result
from simulator.testing import SimServer

ORG_MODULE = "us-enterprise/crm/Leads"
TARGET_SECONDS = 3.0


def one_run(sim: SimServer, workdir: Path) -> dict[str, Any]:
    sim.reset()
    sim.state.configure(per_page=700, downloads_per_minute=1000, job_seconds=(4.0, 4.0))
    env = {
        **os.environ,
        "ZOHO_ETL_POLL_INTERVAL": "0.05",
        "ZOHO_ETL_DOWNLOADS_PER_MINUTE": "1000",
        "PREFECT_HOME": str(workdir / "prefect"),
    }
    command = [sys.executable, "-m", "cli", "export", "Leads", "--full"]
    command += ["--simulator", sim.base_url, "--data-dir", str(workdir / "data")]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines: list[tuple[float, str]] = []
    sent: list[float] = []

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if sent:
                lines.append((time.monotonic() - sent[0], line.rstrip()))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    while sim.state.stats.snapshot()["jobs_created"].get(ORG_MODULE, 0) < 2:
        if process.poll() is not None:
            raise RuntimeError(f"the export ended (code {process.returncode}) before page 2")
        time.sleep(0.02)
    sent.append(time.monotonic())
    process.send_signal(signal.SIGINT)
    code = process.wait()
    exit_seconds = time.monotonic() - sent[0]
    reader.join(timeout=5)
    return {
        "exit_code": code,
        "exit_seconds": round(exit_seconds, 3),
        "first_line_seconds": round(lines[0][0], 3) if lines else None,
        "stderr_tail": [line for _, line in lines[-3:]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    sim = SimServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-interrupt-") as tmp:
            runs = [one_run(sim, Path(tmp) / f"run{i}") for i in range(args.runs)]
    finally:
        sim.stop()
    median = statistics.median(r["exit_seconds"] for r in runs)
    all_130 = all(r["exit_code"] == 130 for r in runs)
    payload = {
        "load_average_before_after": [load_before, os.getloadavg()],
        "runs": runs,
        "median_exit_seconds": median,
        "target_seconds": TARGET_SECONDS,
        "all_exit_130": all_130,
        "verdict": "PASS" if median <= TARGET_SECONDS and all_130 else "FAIL",
    }
    path = write_result("interrupt", payload, args.out)
    for run in runs:
        print(
            f"exit {run['exit_code']} after {run['exit_seconds']} s "
            f"(first line {run['first_line_seconds']} s)"
        )
    print(f"median {median} s, target <= {TARGET_SECONDS} s: {payload['verdict']}; {path}")
    return 0 if payload["verdict"] == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
