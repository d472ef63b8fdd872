"""REST Get Records or a bulk read, chosen by estimated credits, for full exports and deltas.

A bulk read costs the same for 1 record as for 200,000 (create 50 + polls + download, about
57 credits a page); REST Get Records costs one call per 200 records (CRM 1 credit, Recruit 3)
and, with CRM v8 page tokens, reads past 2,000 records. So REST is cheaper up to
``rest_break_even`` records (CRM 11,400, Recruit 3,800) and bulk past it. Full exports know
their size from the module's last export (``engine.windows.previous_created_times``);
incremental deltas from the previous delta (``planning.estimate_delta``); backfill windows
from the ``Modified_Time`` values of the last export (``choose_window``). The choice and its
reason go into the ledger's extract and the run summary.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from engine import windows
from engine.planning import REST_PER_PAGE, Method, MethodChoice, Window, bulk_credits, rest_credits
from engine.rest import rest_page_cost

if TYPE_CHECKING:
    import pyarrow as pa


def rest_break_even(product: str) -> int:
    """The most records REST reads for no more credits than one bulk page."""
    pages = bulk_credits(1) // rest_page_cost(product)
    return pages * REST_PER_PAGE


def choose_full(
    product: str,
    estimated_records: int | None,
    *,
    rest_supported: bool,
    rest_max_records: int | None = None,
) -> MethodChoice:
    """REST for a module small enough that its REST pages cost less than one bulk job."""
    bulk = bulk_credits(estimated_records or 0)
    if estimated_records is None:
        return MethodChoice(Method.BULK, "full export, size unknown: bulk read", None, bulk)
    rest = rest_credits(estimated_records, rest_page_cost(product))
    if not rest_supported:
        return MethodChoice(
            Method.BULK, "full export: REST Get Records cannot read every field", rest, bulk
        )
    cap = rest_break_even(product) if rest_max_records is None else rest_max_records
    if estimated_records > cap:
        return MethodChoice(
            Method.BULK,
            f"full export of ~{estimated_records} records (last export): over the REST limit "
            f"of {cap}, bulk read",
            rest,
            bulk,
        )
    if rest <= bulk:
        return MethodChoice(
            Method.REST,
            f"full export of ~{estimated_records} records (last export): "
            f"REST {rest} credits <= bulk {bulk}",
            rest,
            bulk,
        )
    return MethodChoice(
        Method.BULK,
        f"full export of ~{estimated_records} records (last export): "
        f"bulk {bulk} credits < REST {rest}",
        rest,
        bulk,
    )


def choose_window(
    product: str,
    window: Window,
    modified: pa.Array | None,
    *,
    per_page: int,
    rest_supported: bool,
) -> MethodChoice:
    """REST or bulk for one backfill window of ``Modified_Time``, from the ``Modified_Time``
    values the module's earlier exports saw (``modified``; None: nothing known, bulk).

    REST cannot bound a read by a window's end, only by its start (``If-Modified-Since``), so
    it reads every record modified since the window's start; a bulk read of the window costs
    one job per ``per_page`` records in it.
    """
    if modified is None:
        return MethodChoice(
            Method.BULK, "no earlier export to size the window: bulk read", None, bulk_credits(0)
        )
    inside = windows.count_in(modified, window.start, window.end)
    since = windows.count_in(modified, window.start)
    bulk = math.ceil(max(inside, 1) / per_page) * bulk_credits(1)
    rest = rest_credits(since, rest_page_cost(product))
    sizes = f"~{inside} records in the window, ~{since} modified since its start"
    if not rest_supported or since > rest_break_even(product):
        why = "REST cannot read every field" if not rest_supported else "too many for REST"
        return MethodChoice(Method.BULK, f"{sizes}: {why}, bulk {bulk} credits", rest, bulk)
    if rest <= bulk:
        return MethodChoice(Method.REST, f"{sizes}: REST {rest} credits <= bulk {bulk}", rest, bulk)
    return MethodChoice(Method.BULK, f"{sizes}: bulk {bulk} credits < REST {rest}", rest, bulk)
