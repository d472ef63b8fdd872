from __future__ import annotations

import subprocess
import sys

from bench.harness import PeakRSS

#: a child that holds ~200 MB for a moment, then frees it and idles
SPIKE = (
    "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); del b; "
    "import time; time.sleep(0.5)"
)


def test_peak_rss_sees_a_spike_that_is_gone_before_the_process_ends() -> None:
    child = subprocess.Popen([sys.executable, "-c", SPIKE])
    with PeakRSS(child.pid, interval=0.2) as rss:  # slower than the spike: the kernel's mark
        child.wait()
    assert 200 <= rss.peak_mb < 400


def test_peak_rss_counts_the_children_of_the_process() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {SPIKE!r}])",
        ]
    )
    with PeakRSS(parent.pid, interval=0.01, children_every=1) as rss:
        parent.wait()
    assert rss.peak_mb >= 200
