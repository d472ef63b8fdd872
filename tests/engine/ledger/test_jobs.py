from __future__ import annotations

import pytest

from engine.errors import LedgerError
from engine.ledger import ExtractState, JobState, Ledger, summarise_jobs
from tests.engine.ledger.leads import complete_page_one, open_leads


def test_job_walks_the_state_machine_and_totals_roll_up(ledger: Ledger) -> None:
    extract, _ = open_leads(ledger)
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
    extract, _ = open_leads(ledger)
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
    extract, _ = open_leads(ledger)
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
    extract, _ = open_leads(ledger)
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


def test_last_completed_job_of_a_module_across_extracts(ledger: Ledger) -> None:
    assert ledger.last_completed_job("700000001", "crm", "Leads") is None
    older, _ = open_leads(ledger)
    older_key = complete_page_one(ledger, older, "1")
    ledger.finish_extract(older.extract_id, ExtractState.LOADED)
    newer, _ = open_leads(ledger)
    newer_key = complete_page_one(ledger, newer, "2")
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
    watched, _ = open_leads(ledger)
    watched_key = complete_page_one(ledger, watched, "1")
    ledger.finish_extract(watched.extract_id, ExtractState.LOADED)
    resumed, _ = open_leads(ledger)
    complete_page_one(ledger, resumed, "2", job_seconds=None)  # ended during downtime
    last = ledger.last_completed_job("700000001", "crm", "Leads")
    assert last is not None
    assert last.job_key == watched_key
