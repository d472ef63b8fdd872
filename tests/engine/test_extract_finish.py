"""Closing an extract (``engine.extract_finish``): loaded only with every page in, and the
module's watermark from what the pages' loads saw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import PageNotLoadedError
from engine.extract_finish import finish_loaded
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import ExtractState
from engine.runtime import Runtime
from simulator.testing import SimServer
from tests.engine.tablerows import live_rows


def test_the_watermark_comes_from_what_each_load_saw(
    sim: SimServer, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.extract_finish

    def read_back(*args: object) -> list[tuple[str, datetime]]:
        raise AssertionError("the page was read back from Parquet")

    sim.state.configure(per_page=800)
    with monkeypatch.context() as patch:
        patch.setattr(engine.extract_finish, "_newest_in_page", read_back)
        export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    rows = live_rows(rt, "crm_Leads")
    newest = max(r["Modified_Time"] for r in rows)  # type: ignore[type-var]
    at_newest = sorted(str(r["id"]) for r in rows if r["Modified_Time"] == newest)
    wm = rt.ledger.get_watermark(rt.org, "crm", "Leads")
    assert wm is not None
    assert wm.modified_time == newest.astimezone(UTC).replace(tzinfo=None)  # type: ignore[union-attr]
    assert sorted(wm.ids) == at_newest
    # pages a version without page_watermarks loaded are read back from Parquet instead
    ledger = rt.ledger
    with ledger.engine.begin() as conn:
        conn.execute(ledger.page_watermarks.delete())
        conn.execute(ledger.watermarks_table.delete())
    extract = ledger.find_extract(org=rt.org, product="crm", module="Leads", kind="full")
    assert extract is not None
    engine.extract_finish.advance_module_watermark(rt, extract)
    assert ledger.get_watermark(rt.org, "crm", "Leads") == wm


def test_an_extract_closes_as_loaded_only_with_every_page_in(sim: SimServer, rt: Runtime) -> None:
    extract, _ = rt.ledger.open_extract(
        org=rt.org, product="crm", module="Leads", kind="full", query={}, method="bulk", reason=""
    )
    with pytest.raises(PageNotLoadedError, match="no page has been read"):
        finish_loaded(rt, extract)
    job = rt.ledger.plan_page(extract, 1)
    rt.ledger.mark_created(job.job_key, "7", credits=50)
    with pytest.raises(PageNotLoadedError, match="page 1 is created"):
        finish_loaded(rt, extract)
    rt.ledger.mark_completed(
        job.job_key, record_count=5, per_page=5, more_records=True, next_page_token="t"
    )
    rt.ledger.mark_loaded(job.job_key, rows_read=5, rows_loaded=5, rows_rejected=0)
    with pytest.raises(PageNotLoadedError, match="page 1 says more records follow"):
        finish_loaded(rt, extract)
    assert rt.ledger.get_extract(extract.extract_id).state == ExtractState.RUNNING.value
