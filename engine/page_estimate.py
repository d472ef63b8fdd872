"""How many pages an export expects, for the live progress line.

Expected pages come from what is known before the first call: a partitioned full export has
one window per page; a bulk full export divides the records the module's previous full export
loaded by the page size its last bulk job reported (Zoho: 200,000). Anything else (a first
export, an incremental one, a REST read) is unknown (``None``, shown as ``?``). A resumed
extract counts its loaded pages as it walks past them (each emits its page event again).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from engine import windows
from engine.ledger import ExtractRecord, ExtractState
from engine.planning import BULK_PER_PAGE, Method

if TYPE_CHECKING:
    from engine.runtime import Runtime


def expected_pages(rt: Runtime, extract: ExtractRecord) -> int | None:
    """Pages ``extract`` is expected to have in all, or None (see the module docstring)."""
    if extract.method != Method.BULK.value:
        return None
    plan = windows.plan_from_state(extract.query.get("partition"))
    if plan:
        return len(plan)
    if extract.kind != "full":
        return None
    previous = rt.ledger.find_extract(
        org=extract.org,
        product=extract.product,
        module=extract.module,
        kind="full",
        state=ExtractState.LOADED,
    )
    if previous is None or previous.rows_loaded <= 0:
        return None
    last = rt.ledger.last_completed_job(extract.org, extract.product, extract.module)
    per_page = last.per_page if last is not None and last.per_page else BULK_PER_PAGE
    return max(1, math.ceil(previous.rows_loaded / per_page))
