from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.errors import LedgerError
from engine.ledger import ExtractRecord, ExtractState, JobState, Ledger, Watermark, summarise_jobs


def _open(ledger: Ledger, kind: str = "full", **kw: Any) -> tuple[ExtractRecord, bool]:
    return ledger.open_extract(
        org="700000001",
        product="crm",
        module="Leads",
        kind=kind,
        query={"module": {"api_name": "Leads"}},
        method="bulk",
        reason="full export: bulk read",
        **kw,
    )


def test_unfinished_extract_is_resumed_and_finished_one_is_not(ledger: Ledger) -> None:
    first, resumed = _open(ledger)
    assert not resumed
    again, resumed = _open(ledger)
    assert resumed
    assert again.extract_id == first.extract_id
    ledger.finish_extract(first.extract_id, ExtractState.LOADED)
    third, resumed = _open(ledger)
    assert not resumed
    assert third.extract_id != first.extract_id


def test_windows_are_separate_extracts(ledger: Ledger) -> None:
    w1 = (datetime(2025, 1, 1), datetime(2025, 2, 1))
    w2 = (datetime(2025, 2, 1), datetime(2025, 3, 1))
    a, _ = _open(ledger, kind="backfill", window=w1)
    b, _ = _open(ledger, kind="backfill", window=w2)
    assert a.extract_id != b.extract_id
    assert (
        ledger.find_extract(
            org="700000001", product="crm", module="Leads", kind="backfill", window=w1
        )
        == a
    )


def test_job_walks_the_state_machine_and_totals_roll_up(ledger: Ledger) -> None:
    extract, _ = _open(ledger)
    job = ledger.plan_page(extract, 1)
    assert job.state is JobState.PLANNED
    assert job.job_key.endswith(":p1")
    assert ledger.plan_page(extract, 1) == job  # idempotent
    ledger.mark_created(job.job_key, "4876876000001294251", credits=50)
    ledger.mark_completed(
        job.job_key, record_count=10, per_page=200000, more_records=True, next_page_token="tok"
    )
    ledger.mark_downloaded(job.job_key, path="/x.zip", sha256="ab" * 32, size=123)
    done = ledger.mark_loaded(job.job_key, rows_read=10, rows_loaded=9, rows_rejected=1, credits=2)
    assert done.state is JobState.LOADED
    assert done.job_id == "4876876000001294251"
    assert done.next_page_token == "tok"
    assert done.more_records is True
    assert done.credits == 52
    finished = ledger.finish_extract(extract.extract_id, ExtractState.LOADED)
    assert finished.rows_loaded == 9
    assert finished.credits == 52
    assert finished.finished_at is not None


def test_illegal_transition_is_refused(ledger: Ledger) -> None:
    extract, _ = _open(ledger)
    job = ledger.plan_page(extract, 1)
    with pytest.raises(LedgerError, match="cannot go from planned to downloaded"):
        ledger.mark_downloaded(job.job_key, path="/x", sha256="0", size=1)
    ledger.mark_created(job.job_key, "1", credits=50)
    ledger.mark_completed(
        job.job_key, record_count=1, per_page=None, more_records=False, next_page_token=None
    )
    ledger.mark_downloaded(job.job_key, path="/x", sha256="0", size=1)
    ledger.mark_loaded(job.job_key, rows_read=1, rows_loaded=1, rows_rejected=0)
    with pytest.raises(LedgerError, match="cannot go from loaded"):
        ledger.mark_loaded(job.job_key, rows_read=1, rows_loaded=1, rows_rejected=0)


def test_expired_job_gets_a_fresh_attempt(ledger: Ledger) -> None:
    extract, _ = _open(ledger)
    job = ledger.plan_page(extract, 2, page_token="old")
    ledger.mark_created(job.job_key, "11", credits=50)
    ledger.mark_expired(job.job_key, "result older than a day")
    retry = ledger.plan_page(extract, 2, page_token="new")
    assert retry.job_key.endswith(":p2.r1")
    assert retry.page_token == "new"
    assert [j.job_key for j in ledger.jobs_for_extract(extract.extract_id)] == [retry.job_key]
    assert len(ledger.jobs_for_extract(extract.extract_id, live_only=False)) == 2
    assert summarise_jobs(ledger.jobs_for_extract(extract.extract_id, live_only=False)) == {
        "expired": 1,
        "planned": 1,
    }


def test_a_failed_job_stays_and_its_page_gets_a_new_attempt(ledger: Ledger) -> None:
    extract, _ = _open(ledger)
    job = ledger.plan_page(extract, 2, page_token="tok")
    ledger.mark_created(job.job_key, "11", credits=50)
    ledger.mark_failed(job.job_key, "INTERNAL_SERVER_ERROR: Internal server error occurred.")
    retry = ledger.plan_page(extract, 2, page_token="tok")
    assert retry.job_key.endswith(":p2.r1")
    assert (retry.state, retry.page_token, retry.job_id) == (JobState.PLANNED, "tok", None)
    assert ledger.plan_page(extract, 2, page_token="tok") == retry  # idempotent again
    assert [j.job_key for j in ledger.jobs_for_extract(extract.extract_id)] == [retry.job_key]
    kept = ledger.jobs_for_extract(extract.extract_id, live_only=False)
    assert [(j.state, j.job_id) for j in kept] == [
        (JobState.FAILED, "11"),
        (JobState.PLANNED, None),
    ]
    assert kept[0].error == "INTERNAL_SERVER_ERROR: Internal server error occurred."


def test_watermark_never_moves_back(ledger: Ledger) -> None:
    assert ledger.get_watermark("o", "crm", "Leads") is None
    t1 = datetime(2025, 3, 1, 10, 0, 0)
    ledger.set_watermark("o", "crm", "Leads", Watermark(t1, ("2", "1")), "e1")
    assert ledger.get_watermark("o", "crm", "Leads") == Watermark(t1, ("1", "2"))
    ledger.set_watermark("o", "crm", "Leads", Watermark(t1 - timedelta(hours=1), ("3",)), "e2")
    assert ledger.get_watermark("o", "crm", "Leads") == Watermark(t1, ("1", "2"))
    ledger.set_watermark("o", "crm", "Leads", Watermark(t1 + timedelta(seconds=1), ("4",)), "e3")
    assert ledger.get_watermark("o", "crm", "Leads") == Watermark(t1 + timedelta(seconds=1), ("4",))
    assert [m for _, _, m, _ in ledger.all_watermarks()] == ["Leads"]


def test_reserve_credits_is_all_or_nothing(ledger: Ledger) -> None:
    now = datetime(2025, 3, 1, 12, 0)
    window = timedelta(hours=24)
    assert ledger.reserve_credits("o", 60, "a", limit=100, window=window, now=now) == (True, 100)
    assert ledger.reserve_credits("o", 50, "b", limit=100, window=window, now=now) == (False, 40)
    assert ledger.credits_spent_since("o", now - window) == 60
    later = now + window + timedelta(seconds=1)
    assert ledger.reserve_credits("o", 100, "c", limit=100, window=window, now=later) == (
        True,
        100,
    )


def test_sqlite_uses_prefixed_tables(tmp_path: Path) -> None:
    ledger = Ledger(sa.create_engine(f"sqlite:///{tmp_path / 'l.db'}"))
    ledger.create_schema()
    assert ledger.table_name("jobs") == "zoho_etl_jobs"
    names = sa.inspect(ledger.engine).get_table_names()
    assert {"zoho_etl_jobs", "zoho_etl_extracts", "zoho_etl_watermarks"} <= set(names)
    ledger.engine.dispose()


@pytest.mark.postgres
def test_postgres_uses_the_zoho_etl_schema(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS zoho_etl CASCADE"))
    ledger = Ledger(engine)
    ledger.create_schema()
    assert ledger.table_name("jobs") == "zoho_etl.jobs"
    extract, _ = _open(ledger)
    job = ledger.plan_page(extract, 1)
    ledger.mark_created(job.job_key, "9", credits=50)
    assert ledger.get_job(job.job_key).state is JobState.CREATED
    engine.dispose()


def _complete_page_one(
    ledger: Ledger, extract: ExtractRecord, job_id: str, job_seconds: float | None = 12.5
) -> str:
    job = ledger.plan_page(extract, 1)
    ledger.mark_created(job.job_key, job_id, credits=50)
    ledger.mark_completed(
        job.job_key,
        record_count=1,
        per_page=None,
        more_records=False,
        next_page_token=None,
        job_seconds=job_seconds,
    )
    return job.job_key


def test_last_completed_job_of_a_module_across_extracts(ledger: Ledger) -> None:
    assert ledger.last_completed_job("700000001", "crm", "Leads") is None
    older, _ = _open(ledger)
    older_key = _complete_page_one(ledger, older, "1")
    ledger.finish_extract(older.extract_id, ExtractState.LOADED)
    newer, _ = _open(ledger)
    newer_key = _complete_page_one(ledger, newer, "2")
    running = ledger.plan_page(newer, 2)
    ledger.mark_created(running.job_key, "3", credits=50)  # created, not completed: skipped
    last = ledger.last_completed_job("700000001", "crm", "Leads")
    assert last is not None
    assert last.job_key == newer_key
    earlier = ledger.last_completed_job(
        "700000001", "crm", "Leads", other_than_extract=newer.extract_id
    )
    assert earlier is not None
    assert earlier.job_key == older_key
    assert ledger.last_completed_job("700000001", "crm", "Contacts") is None
    assert ledger.last_completed_job("700000001", "recruit", "Leads") is None
    assert ledger.last_completed_job("700000002", "crm", "Leads") is None
    assert last.job_seconds == 12.5


def test_a_job_that_ended_unwatched_is_no_history(ledger: Ledger) -> None:
    watched, _ = _open(ledger)
    watched_key = _complete_page_one(ledger, watched, "1")
    ledger.finish_extract(watched.extract_id, ExtractState.LOADED)
    resumed, _ = _open(ledger)
    _complete_page_one(ledger, resumed, "2", job_seconds=None)  # ended during downtime
    last = ledger.last_completed_job("700000001", "crm", "Leads")
    assert last is not None
    assert last.job_key == watched_key


def test_an_older_ledger_gets_the_new_columns(tmp_path: Path) -> None:
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'old.duckdb'}")
    Ledger(engine).create_schema()
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE zoho_etl.jobs DROP COLUMN job_seconds"))
    ledger = Ledger(engine)
    ledger.create_schema()
    extract, _ = _open(ledger)
    key = _complete_page_one(ledger, extract, "1", job_seconds=3.0)
    assert ledger.get_job(key).job_seconds == 3.0
    engine.dispose()


def test_a_duckdb_ledger_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "ledger.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(LedgerError, match="open in another process") as caught:
            Ledger.from_url(f"duckdb:///{path}")
        assert "PostgreSQL" in str(caught.value)
    finally:
        holder.communicate("", timeout=30)
