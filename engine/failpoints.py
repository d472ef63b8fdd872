"""Named crash points for the crash-resume tests: the process SIGKILLs itself there.

Set ``ZOHO_ETL_FAILPOINTS`` to a comma-separated list of ``point`` or ``point@Module:page``
(e.g. ``job-created@Leads:2``). Each point fires once per process at most. Unset (the normal
case) every call is a dictionary lookup and returns.

Points:
- ``job-created``: the bulk job exists and its id is in the ledger; nothing polled yet.
- ``download``: while the result zip is being written (the file exists, the ledger does not
  know it yet).
- ``load``: inside the warehouse merge transaction (page staged, merge not committed).
- ``window-loaded``: a window of a partitioned full export is loaded while the others run
  (``@Module:N``: the N-th window to finish).
- ``backfill-forecast``: a backfill's forecast is announced; nothing is read yet.
- ``lake-write``: inside a page's lake commit (delta-rs has the page's data, no commit yet).
- ``lake-committed``: the page is in the lake; the ledger does not know it loaded yet.
- ``write-job-created``: a bulk write job exists and its id is in the write's saved state
  (``@Module:N``: chunk N-1).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

ENV = "ZOHO_ETL_FAILPOINTS"


def _armed(point: str, module: str, page: int) -> bool:
    spec = os.environ.get(ENV)
    if not spec:
        return False
    for item in spec.split(","):
        name, _, where = item.strip().partition("@")
        if name != point:
            continue
        if not where:
            return True
        want_module, _, want_page = where.partition(":")
        if want_module == module and (not want_page or int(want_page) == page):
            return True
    return False


def kill_now() -> None:
    """SIGKILL this process: no cleanup, no ``finally``, like a crashed machine."""
    os.kill(os.getpid(), signal.SIGKILL)


def failpoint(point: str, module: str, page: int) -> None:
    """Kill the process here if ``point`` is armed for this module and page."""
    if _armed(point, module, page):
        kill_now()


def kill_when_file_appears(
    point: str, module: str, page: int, path_of: Callable[[], list[Path]]
) -> None:
    """Arm a watcher that kills the process as soon as one of ``path_of()`` exists.

    Used for kills *during* a download or a load: the watcher fires while the library is
    still writing. If the step finishes before the watcher sees the file, the caller's
    ``failpoint`` right after the step fires instead.
    """
    if not _armed(point, module, page):
        return

    def watch() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if any(p.exists() for p in path_of()):
                kill_now()
            time.sleep(0.0005)

    threading.Thread(target=watch, name=f"failpoint-{point}", daemon=True).start()
