"""``cli.progress``: one live line per module on a terminal, one plain line per event else."""

from __future__ import annotations

import io

from rich.console import Console

from cli.progress import RunProgress
from engine.progress import ProgressEvent

EVENTS = [
    ProgressEvent("started", "crm", "Leads", method="bulk", pages_expected=2),
    ProgressEvent("page", "crm", "Leads", page=1, rows=200_000, credits=53, more=True),
    ProgressEvent("started", "crm", "Deals", method="bulk"),
    ProgressEvent("page", "crm", "Leads", page=2, rows=100_000, rejects=3, credits=52),
    ProgressEvent("finished", "crm", "Leads", rows=300_000, rejects=3, credits=111),
]


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    watcher = RunProgress(Console(file=out, force_terminal=False, width=200), "exporting")
    for event in EVENTS:
        watcher(event)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(EVENTS)
    assert lines[0] == "crm Leads: started (bulk, pages 0/2)"
    assert lines[1].startswith("crm Leads: page 1/2 loaded: 200,000 rows, 0 rejected, 53 credits")
    assert "more to come" in lines[1]
    assert lines[2] == "crm Deals: started (bulk, pages 0/?)"  # no estimate: a first export
    assert lines[-1].startswith("crm Leads: done: pages 2/2, 300,000 rows, 3 rejected, 111")


def test_one_live_line_per_module_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=140, color_system=None)
    watcher = RunProgress(console, "exporting")
    with watcher.progress:
        for event in EVENTS[:2]:
            watcher(event)
        rows = {t.description: dict(t.fields) for t in watcher.progress.tasks}
        assert rows["crm Leads"]["pages"] == "1/2"
        for event in EVENTS[2:]:
            watcher(event)
    rows = {t.description: dict(t.fields) for t in watcher.progress.tasks}
    assert list(rows) == ["crm Leads", "crm Deals"]
    assert rows["crm Leads"] == {
        "state": "done",
        "pages": "2/2",
        "rows": 300_000,
        "rejects": 3,
        "credits": 111,
    }
    assert rows["crm Deals"]["state"] == "running"
    drawn = out.getvalue()
    assert "crm Leads" in drawn
    assert "300,000" in drawn


def pages_after(*events: ProgressEvent) -> str:
    watcher = RunProgress(Console(file=io.StringIO(), force_terminal=False), "exporting")
    for event in events:
        watcher(event)
    return watcher._modules["crm Leads"].pages_text()


def test_pages_expected_turn_unknown_when_the_estimate_is_short() -> None:
    started = ProgressEvent("started", "crm", "Leads", method="bulk", pages_expected=2)
    more = ProgressEvent("page", "crm", "Leads", page=2, rows=10, more=True)
    last = ProgressEvent("page", "crm", "Leads", page=3, rows=10)
    done = ProgressEvent("finished", "crm", "Leads", rows=30)
    assert pages_after(started, more) == "1/2"
    assert pages_after(started, more, more) == "2/?"  # a third page follows: 2 was short
    assert pages_after(started, more, more, last, done) == "3/3"
    three = ProgressEvent("started", "crm", "Leads", method="bulk", pages_expected=3)
    assert pages_after(three) == "0/3"
    assert pages_after(three, more, more) == "2/3"
    assert pages_after(ProgressEvent("started", "crm", "Leads", method="rest")) == "-"
