"""Which interrupted extract of a module an export resumes, whatever flags it is run with.

An export stopped half-way (Ctrl-C, a crash, a budget that ran out) leaves its extract
``running`` in the ledger, with the query it planned. The next export of the same module of
the same org resumes it from its first page not loaded, whatever the flags of either run:
``--concurrency``, the runner, the budget and the landing options change how pages are run,
not which pages there are, and a resumed extract keeps its own query (an incremental one its
``Modified_Time`` start, so a different ``--overlap-minutes`` changes nothing). Between a
full and an incremental export:

- a full export is open and an incremental one is asked for: the full export is resumed (it
  loads every record, changes included), with one warning line saying so;
- an incremental export is open and ``--full`` is asked for: the incremental one is closed
  (``failed``) and the full export starts (it re-reads the records the incremental one was
  after), with one warning line saying so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine.ledger import ExtractRecord, ExtractState

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = logging.getLogger("engine.resume")


def interrupted_extract(rt: Runtime, product: str, module: str, kind: str) -> ExtractRecord | None:
    """The module's running extract to resume for an export of ``kind``, if any."""

    def running(of_kind: str) -> ExtractRecord | None:
        return rt.ledger.find_extract(
            org=rt.org, product=product, module=module, kind=of_kind, state=ExtractState.RUNNING
        )

    same = running(kind)
    if same is not None:
        return same
    other = running("incremental" if kind == "full" else "full")
    if other is None:
        return None
    started = f"{other.started_at:%Y-%m-%d %H:%M} UTC"
    if other.kind == "full":
        log.warning(
            "%s %s: resuming the interrupted full export started %s instead of an incremental "
            "one (it loads every record, changes included)",
            product,
            module,
            started,
        )
        return other
    rt.ledger.finish_extract(other.extract_id, ExtractState.FAILED)
    log.warning(
        "%s %s: the interrupted incremental export started %s is closed; --full reads every "
        "record anyway",
        product,
        module,
        started,
    )
    return None
