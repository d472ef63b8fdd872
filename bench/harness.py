"""Shared benchmark plumbing: peak-RSS sampling, stage timing and JSON result files.

Every benchmark measures its comparisons in the same run and writes one JSON file under
``bench/results/`` (or ``--out``). Memory is the peak resident set size of a process,
sampled from outside it with psutil, so a benchmark can measure a server process and a
client process separately.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class PeakRSS:
    """The peak resident set size of one process (and its children), watched from a thread.

    Use as a context manager; ``peak_bytes`` holds the highest value seen. The process's own
    peak is the kernel's high-water mark (``VmHWM`` in ``/proc/PID/status``, read every
    ``interval``: exact, however short the spike); children (a worker's own servers) are
    found and sampled every ``children_every`` reads, since listing them scans every
    process on the machine (at 20 ms that scan took ~4 CPU seconds of a 25 s benchmark leg
    from the two cores being measured). Where there is no ``/proc``, the current RSS is
    sampled instead.
    """

    def __init__(
        self, pid: int | None = None, interval: float = 0.02, children_every: int = 25
    ) -> None:
        self._process = psutil.Process(pid or os.getpid())
        self._status = Path(f"/proc/{self._process.pid}/status")
        self._interval = interval
        self._children_every = children_every
        self._children: list[psutil.Process] = []
        self._reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self.peak_bytes = 0

    def _own_peak(self) -> int:
        try:
            for line in self._status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return int(self._process.memory_info().rss)

    def _sample(self) -> None:
        try:
            if self._reads % self._children_every == 0:
                self._children = self._process.children(recursive=True)
            self._reads += 1
            total = self._own_peak()
            for child in self._children:
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        except psutil.NoSuchProcess:
            return
        self.peak_bytes = max(self.peak_bytes, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRSS:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


@dataclass
class Stage:
    """One measured stage: wall time, rows, and the peak RSS of the measured process."""

    name: str
    seconds: float = 0.0
    rows: int = 0
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return round(self.rows / self.seconds, 1) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["rows_per_second"] = self.rows_per_second
        return data


@contextmanager
def measure(name: str, rows: int = 0, pid: int | None = None) -> Iterator[Stage]:
    """Time a block and sample the peak RSS of ``pid`` (this process by default)."""
    stage = Stage(name=name, rows=rows)
    started = time.perf_counter()
    with PeakRSS(pid) as rss:
        yield stage
    stage.seconds = time.perf_counter() - started
    stage.peak_rss_mb = rss.peak_mb


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        # the machine is shared: how busy it was when the result was written (1, 5, 15 min)
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_result(name: str, payload: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``payload`` (plus the machine description) as JSON and return the path."""
    path = out or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator`` rounded, or None when the denominator is zero."""
    return round(numerator / denominator, 2) if denominator else None


def run_worker_process(name: str, command: Sequence[str]) -> dict[str, Any]:
    """Run one worker process: its last stdout line is its JSON result; adds its peak RSS."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, text=True)
    with PeakRSS(process.pid) as rss:
        out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"worker {name} failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = rss.peak_mb
    return result


def median_run(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The run of median seconds, with every run's seconds (``runs_seconds``) and the highest
    peak RSS of them all."""
    ordered = sorted(results, key=lambda r: r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runs_seconds"] = [r["seconds"] for r in ordered]
    chosen["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ordered)
    return chosen
