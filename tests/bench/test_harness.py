from __future__ import annotations

import subprocess
import sys
import time

from bench.harness import PeakRSS

#: a child that touches ~200 MB, says so, and (optionally frees it and) waits for a line on stdin
HOLD = (
    "import sys; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
    "FREE; print('ready', flush=True); sys.stdin.readline()"
)
#: polls of 50 ms before giving up (two minutes: only reached if the sampler is starved)
MAX_POLLS = 2400


def _wait_for_peak(rss: PeakRSS, megabytes: float) -> None:
    """Let the sampler (on its own schedule) see ``megabytes``; the memory is held till then."""
    for _ in range(MAX_POLLS):
        if rss.peak_mb >= megabytes:
            return
        time.sleep(0.05)
    raise AssertionError(f"the sampler never saw {megabytes} MB (peak {rss.peak_mb} MB)")


def test_peak_rss_sees_a_spike_that_is_gone_before_the_process_ends() -> None:
    code = HOLD.replace("FREE", "del b")
    with (
        subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        ) as child,
        PeakRSS(child.pid, interval=0.2) as rss,
    ):
        assert child.stdin is not None
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"  # freed: only the kernel's mark keeps it
        _wait_for_peak(rss, 200)
        child.stdin.close()
        child.wait()
    assert 200 <= rss.peak_mb < 400


def test_peak_rss_counts_the_children_of_the_process() -> None:
    code = HOLD.replace("FREE", "pass")
    script = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {code!r}])"
    with (
        subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        ) as parent,
        PeakRSS(parent.pid, interval=0.01, children_every=1) as rss,
    ):
        assert parent.stdin is not None
        assert parent.stdout is not None
        assert parent.stdout.readline() == b"ready\n"  # the grandchild holds 200 MB until told
        _wait_for_peak(rss, 200)
        parent.stdin.close()
        parent.wait()
    assert rss.peak_mb >= 200
