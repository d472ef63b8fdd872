from __future__ import annotations

import datetime as dt

from engine.creator_options import creator_since_criteria, rest_is_cheaper


def test_since_criteria_is_in_the_apps_format_and_zone() -> None:
    since = dt.datetime(2026, 3, 1, 18, 45, 0)  # naive UTC
    assert (
        creator_since_criteria(since, "dd-MMM-yyyy", "Asia/Kolkata")
        == "Modified_Time >= '02-Mar-2026 00:15:00'"
    )
    assert (
        creator_since_criteria(since, "MM-dd-yyyy", "America/Los_Angeles")
        == "Modified_Time >= '03-01-2026 10:45:00'"
    )


def test_rest_or_bulk_by_call_cost() -> None:
    assert rest_is_cheaper(3_000)  # 3 Get Records calls against ~4 for one bulk job
    assert not rest_is_cheaper(50_000)  # 50 calls against ~4
