from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from engine.errors import UsageError
from engine.ledger import ExtractState
from engine.retention import check_criteria, retention_for_report
from engine.retention_audit import DELETED, FAILED, DeletionAudit
from engine.runtime import Runtime
from simulator.creator.state import CreatorState
from simulator.testing import SimServer
from tests.engine.creatorhelpers import (
    ACCOUNT,
    APP,
    FORM,
    ORG,
    REPORT,
    assert_lake_equals_warehouse,
    calls_today,
    export,
    sim_creator,
    table,
)


def _setup(sim: SimServer, records: int = 2_000) -> tuple[CreatorState, str, list[str]]:
    """1,050 records match the criteria, 3 of them locked (3001 on delete)."""
    creator = sim_creator(sim, records={f"{APP}/{FORM}": records})
    base = creator.form_store(ORG, APP, FORM).values.base_id
    locked = [str(base + 100), str(base + 640), str(base + 1149)]
    creator.lock_records(ORG, APP, FORM, locked)
    return creator, f"ID >= {base + 100} && ID < {base + 1150}", locked


def _retain(rt: Runtime, criteria: str, *, dry_run: bool = False, allow_all: bool = False):  # type: ignore[no-untyped-def]
    return retention_for_report(
        rt, APP, REPORT, criteria, creator=ACCOUNT, dry_run=dry_run, allow_all=allow_all
    )


def test_criteria_is_mandatory_and_all_records_need_allow_all() -> None:
    for empty in ("", "   "):
        with pytest.raises(UsageError, match="empty"):
            check_criteria(empty)
    for every in ("ID != 0", "ID!=0", "(ID != null)"):
        with pytest.raises(UsageError, match="--all"):
            check_criteria(every)
        assert check_criteria(every, allow_all=True) == every.strip()
    assert check_criteria(' Status == "Closed" ') == 'Status == "Closed"'


def test_a_criteria_matching_every_exported_record_needs_allow_all(
    sim: SimServer, rt: Runtime
) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 300})
    export(rt)
    store = creator.form_store(ORG, APP, FORM)
    every = "ID > 0"  # not the literal ID != 0: known by the count, against the warehouse
    dry = _retain(rt, every, dry_run=True)
    assert dry.matched == 300
    assert "every record: deleting them needs --all" in dry.message
    with pytest.raises(UsageError, match="every record the last export"):
        _retain(rt, every)
    assert len(store) == 300
    assert [e.state for e in rt.ledger.recent_extracts(5) if e.kind == "retention"] == [
        ExtractState.FAILED
    ]
    assert _retain(rt, every, allow_all=True).deleted == 300
    assert len(store) == 0


def test_dry_run_counts_and_lists_without_deleting(sim: SimServer, rt: Runtime) -> None:
    creator, criteria, _ = _setup(sim)
    store = creator.form_store(ORG, APP, FORM)
    result = _retain(rt, criteria, dry_run=True)
    assert result.matched == 1_050
    assert result.deleted == 0
    assert result.ids_path is not None
    ids = Path(result.ids_path).read_text(encoding="utf-8").split()
    assert len(ids) == len(set(ids)) == 1_050
    assert result.sample_ids == ids[:20]
    assert len(store) == 2_000
    assert rt.ledger.recent_extracts(5) == []


def test_deleting_1050_records_takes_6_calls_and_reports_the_3001_failures(
    sim: SimServer, rt: Runtime
) -> None:
    creator, criteria, locked = _setup(sim)
    store = creator.form_store(ORG, APP, FORM)
    export(rt, "full")
    calls_before = calls_today(creator)
    result = _retain(rt, criteria)
    assert result.delete_calls == 6
    assert calls_today(creator) - calls_before == 1 + 2 + 6  # app lookup, list, delete
    assert result.deleted == 1_047
    assert sorted(f[0] for f in result.failed) == sorted(locked)
    assert {f[1] for f in result.failed} == {3001}
    assert len(store) == 2_000 - 1_047
    assert "1047 deleted in 6 delete call(s); 3 failed" in result.message
    audit = DeletionAudit(rt.ledger)
    assert result.extract_id is not None
    deleted = audit.ids(result.extract_id, DELETED)
    assert len(deleted) == 1_047
    assert audit.ids(result.extract_id, FAILED) == set(locked)
    assert result.marked_in_warehouse == result.marked_in_lake == 1_047
    loaded = table(rt)
    marked = loaded.filter(pc.is_valid(loaded["_zoho_deleted_at"]))
    assert set(marked["id"].to_pylist()) == deleted
    assert loaded.num_rows == 2_000  # rows are kept, stamped
    # the lake table: the same stamps on the same rows, none removed
    in_lake = assert_lake_equals_warehouse(rt)
    assert in_lake.num_rows == 2_000
    assert set(in_lake.filter(pc.is_valid(in_lake["_zoho_deleted_at"]))["id"].to_pylist()) == (
        deleted
    )


def test_a_rerun_of_a_finished_retention_deletes_nothing_and_says_so(
    sim: SimServer, rt: Runtime
) -> None:
    creator, criteria, _locked = _setup(sim)
    _retain(rt, criteria)
    again = _retain(rt, criteria)
    assert (again.deleted, again.delete_calls) == (0, 1)
    assert again.message.startswith("nothing deleted: the 3 record(s) that match failed")
    creator.form_store(ORG, APP, FORM).locked.clear()
    _retain(rt, criteria)
    done = _retain(rt, criteria)
    assert (done.deleted, done.matched, done.delete_calls) == (0, 0, 1)
    assert done.message == "nothing deleted: no record matches the criteria (already done)"


def test_a_crash_after_a_delete_call_is_resumed_and_its_ids_audited(
    sim: SimServer, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator, criteria, _locked = _setup(sim)
    store = creator.form_store(ORG, APP, FORM)
    export(rt, "full")
    calls = 0
    real = DeletionAudit.record

    def crash_on_third_answer(self: DeletionAudit, *args: object, **kw: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # the third call deleted at Creator; its answer is lost
            raise KeyboardInterrupt("killed")
        real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(DeletionAudit, "record", crash_on_third_answer)
    with pytest.raises(KeyboardInterrupt):
        _retain(rt, criteria)
    monkeypatch.setattr(DeletionAudit, "record", real)
    running = rt.ledger.recent_extracts(1)[0]
    assert running.state == ExtractState.RUNNING.value
    resumed = _retain(rt, criteria)
    assert resumed.resumed
    assert resumed.extract_id == running.extract_id
    # the third call processed 200: the 2 locked ones it met again and 198 it deleted
    assert resumed.recovered == 198
    assert resumed.deleted == 1_047
    assert len(store) == 2_000 - 1_047
    audit = DeletionAudit(rt.ledger)
    deleted = audit.ids(running.extract_id, DELETED)
    assert len(deleted) == 1_047
    assert rt.ledger.recent_extracts(1)[0].state == ExtractState.LOADED.value
    # the lost call's ids were stamped before the crash and again on resume: all 1,047 are
    in_lake = assert_lake_equals_warehouse(rt)
    assert set(in_lake.filter(pc.is_valid(in_lake["_zoho_deleted_at"]))["id"].to_pylist()) == (
        deleted
    )
