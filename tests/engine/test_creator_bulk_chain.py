from __future__ import annotations

import pyarrow.compute as pc
import pytest

from engine.creator_load import PageLoader
from engine.lake import open_lake_table
from engine.ledger import JobState
from engine.runtime import Runtime
from simulator.testing import SimServer
from tests.engine.creatorhelpers import APP, FORM, ORG, TABLE, lake, sim_creator, table
from tests.engine.creatorhelpers import export as run_export


def test_450000_records_through_3_chained_jobs_each_once(sim: SimServer, rt: Runtime) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 450_000})
    summary = run_export(rt, "full")
    assert summary.pages == 3
    assert len(creator.jobs) == summary.bulk_jobs_created == 3
    store = creator.form_store(ORG, APP, FORM)
    loaded = table(rt)
    ids = loaded["id"]
    assert loaded.num_rows == pc.count_distinct(ids).as_py() == len(store) == 450_000
    jobs = rt.ledger.jobs_for_extract(rt.ledger.recent_extracts(1)[0].extract_id)
    assert [j.state for j in jobs] == [JobState.LOADED] * 3
    assert [j.record_count for j in jobs] == [200_000, 200_000, 50_000]
    # the lake: each record once, one append commit per page (ids of a first load are new)
    assert lake(rt)["id"].to_pylist() == sorted(ids.to_pylist())
    history = open_lake_table(rt.settings, "creator", TABLE).delta_table().history()
    assert [h["zoho_etl_operation"] for h in history] == ["append"] * 3


def test_an_expired_cursor_is_recovered_without_duplicates(
    sim: SimServer, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 320_000})
    loads = 0
    real = PageLoader.load

    def slow_load(self: PageLoader, *args: object, **kw: object) -> object:
        nonlocal loads
        loads += 1
        result = real(self, *args, **kw)  # type: ignore[arg-type]
        if loads == 1:  # converting page 1 takes 16 minutes: page 2's own cursor expires
            sim.state.clock.advance(16 * 60)
        return result

    monkeypatch.setattr(PageLoader, "load", slow_load)
    summary = run_export(rt, "full", bulk_max_records=100_000)
    loaded = table(rt)
    assert loaded.num_rows == pc.count_distinct(loaded["id"]).as_py() == 320_000
    assert lake(rt).num_rows == pc.count_distinct(lake(rt)["id"]).as_py() == 320_000
    extract = rt.ledger.recent_extracts(1)[0]
    jobs = rt.ledger.jobs_for_extract(extract.extract_id, live_only=False)
    expired = [j for j in jobs if j.state is JobState.EXPIRED]
    assert [j.page for j in expired] == [3]
    assert "record_cursor refused" in (expired[0].error or "")
    resumed = [j for j in jobs if j.query.get("after_id")]
    assert [j.page for j in resumed] == [3]
    assert summary.pages == 4
    assert len(creator.jobs) == 4  # the refused cursor created no job
