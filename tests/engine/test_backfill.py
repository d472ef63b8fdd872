"""The backfill's forecast: printed before anything is read, and what the run then spends.

Run as the demo runs its backfill (Deals 2024-01-01 .. 2026-01-01 in 180-day windows, after a
full export that tells how the records spread), but through ``zoho-etl`` in a child process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.backfill import forecast_backfill
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.planning import Method, backfill_windows
from engine.runtime import Runtime
from simulator.testing import SimServer
from tests.flows.cli_process import run_cli

ORG = "us-enterprise"
BACKFILL = (
    "backfill", "Deals", "--start", "2024-01-01", "--end", "2026-01-01", "--window-days", "180",
)  # fmt: skip


def credits_used(sim: SimServer) -> int:
    return int(sim.state.stats.credits_used.get(ORG, 0))


def jobs_created(sim: SimServer) -> int:
    return sum(sim.state.stats.jobs_created.values())


def test_the_forecast_names_each_window_s_method_credits_and_reason(
    sim: SimServer, rt: Runtime
) -> None:
    export_module(rt, "crm", "Deals", ExportOptions(mode="full"), DirectSteps(rt))
    from datetime import datetime, timedelta

    ranges = backfill_windows(datetime(2024, 1, 1), datetime(2026, 1, 1), timedelta(days=180))
    forecast = forecast_backfill(rt, "crm", "Deals", ranges, planning_credits=1)

    assert len(forecast.windows) == len(ranges) == 5
    assert forecast.credits == 1 + sum(w.credits for w in forecast.windows)
    lines = forecast.lines()
    assert lines[0].startswith("forecast: backfill crm Deals, 5 of 5 windows to do")
    for window, line in zip(forecast.windows, lines[1:], strict=True):
        assert window.window.label() in line
        assert f"~{window.credits} credits" in line
        assert window.choice.reason in line
        # the cheaper of the two estimates is the one chosen
        rest, bulk = window.choice.rest_credits, window.choice.bulk_credits
        assert rest is not None
        assert window.credits == min(rest, bulk)
        assert (window.choice.method is Method.REST) == (rest <= bulk)


def test_the_backfill_prints_its_forecast_before_reading_and_spends_what_it_forecast(
    sim: SimServer, prefect_api: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert run_cli(sim, prefect_api, data, "export", "Deals", "--full").returncode == 0
    sim.state.configure(per_page=150)  # as the demo: a bulk window would split

    before, jobs_before = credits_used(sim), jobs_created(sim)
    stopped = run_cli(
        sim, prefect_api, data, *BACKFILL, env={"ZOHO_ETL_FAILPOINTS": "backfill-forecast"}
    )
    # killed right after the forecast was announced: it is on the console, and only the
    # field metadata it was planned from has been paid for (no REST page, no bulk job)
    assert stopped.returncode == -9, stopped.stderr[-2000:]
    assert "forecast: backfill crm Deals, 5 of 5 windows to do" in stopped.stderr
    window_lines = [line for line in stopped.stderr.splitlines() if re.match(r"\s+20\d\d-", line)]
    assert len(window_lines) == 5
    assert all(re.search(r": (REST|bulk), ~\d+ credits \(.+\)", line) for line in window_lines)
    assert credits_used(sim) - before == 1
    assert jobs_created(sim) == jobs_before

    before = credits_used(sim)
    done = run_cli(sim, prefect_api, data, *BACKFILL, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    printed = re.search(r"forecast: backfill .*~(\d+) credits in all", done.stderr)
    assert printed is not None
    forecast = int(printed.group(1))
    spent = credits_used(sim) - before
    assert abs(spent - forecast) <= 0.05 * forecast, (spent, forecast)
    rows = json.loads(done.stdout)["rows"]
    assert len(rows) == 5
    for row in rows:  # the summary: method and reason per window
        assert row["method"] in {"rest", "bulk"}
        assert "credits" in row["reason"]
    # the demo's data: every window is cheaper by REST than by a 57-credit bulk job
    assert {row["method"] for row in rows} == {"rest"}
    assert sum(int(row["credits"]) for row in rows) == forecast - 1
