"""``ZohoClient`` end to end against the simulator over real loopback HTTP.

Covers every data centre's URLs, token refresh (proactive, after expiry, 401 storms, revoked
refresh token), every simulator fault, paging by ``next_page_token`` and by Recruit ``page``,
credit budgets, re-attaching to an existing job, metadata and REST records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.bulk_read import (
    BulkReadJob,
    BulkReadObserver,
    BulkReadQuery,
    DownloadedPage,
    JobState,
)
from connectors.credits import CallType
from connectors.criteria import where
from connectors.datacenters import DATA_CENTERS, Endpoints
from connectors.errors import (
    AuthError,
    BulkJobFailedError,
    CreditBudgetExceededError,
    FatalError,
    InvalidRequestError,
    ModuleNotSupportedError,
    NotFoundError,
    QueryValidationError,
)
from connectors.http import Timeouts
from connectors.retry import RetryPolicy
from simulator.testing import SimServer
from tests.connectors.simhelpers import US, csv_rows, org_in, sim_client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def small(sim: SimServer) -> SimServer:
    """Small modules and quick jobs: every test here stays well under a second or two."""
    sim.state.configure(
        records={"Leads": 250, "Contacts": 40, "Candidates": 70},
        per_page=100,
        job_seconds=(0.01, 0.03),
    )
    return sim


def ids_of(pages: Sequence[DownloadedPage]) -> list[str]:
    return [row["id"] for p in pages for row in csv_rows(p.zip_path)]


# -- data centres and hosts --------------------------------------------------------------


def test_every_data_centre_serves_token_metadata_bulk_read_and_recruit(
    small: SimServer, tmp_path: Path
) -> None:
    orgs = [org_in(dc, i) for i, dc in enumerate(sorted(DATA_CENTERS))]
    small.state.configure(orgs=tuple(orgs))
    for org in orgs:
        with sim_client(small, "crm", org) as crm, sim_client(small, "recruit", org) as recruit:
            assert crm.endpoints.accounts == f"{small.base_url}/{org.dc}/accounts"
            assert crm.base_url() == f"{small.base_url}/{org.dc}/api"
            assert recruit.base_url() == f"{small.base_url}/{org.dc}/recruit"
            assert len(crm.metadata.fields("Contacts")) > 5
            pages = crm.bulk_read.export(BulkReadQuery("Contacts"), tmp_path / org.dc)
            assert sum(p.record_count for p in pages) == 40
            cands = recruit.bulk_read.export(BulkReadQuery("Candidates"), tmp_path / org.dc)
            assert [p.record_count for p in cands] == [70]
    tokens = small.state.stats.snapshot()["tokens_issued"]
    assert tokens == {org.key: 2 for org in orgs}  # one per client, per data centre


def test_a_token_from_another_data_centre_is_refused(small: SimServer) -> None:
    eu_endpoints = Endpoints.for_simulator(small.base_url, "eu")
    wrong = replace(eu_endpoints, accounts=f"{small.base_url}/us/accounts")
    with sim_client(small, endpoints=wrong) as client, pytest.raises(FatalError):
        # the US token is minted, then the EU API host rejects it even after a refresh
        client.http.request_json(
            "GET",
            eu_endpoints.crm_api + "/crm/v8/settings/fields",
            call_type=CallType.METADATA,
            params={"module": "Leads"},
        )


def test_api_domain_is_honoured_for_crm_and_ignored_for_recruit(
    small: SimServer, tmp_path: Path
) -> None:
    nowhere = "http://127.0.0.1:9/nowhere"
    ends = replace(Endpoints.for_simulator(small.base_url, "us"), crm_api=nowhere)
    with (
        sim_client(small, endpoints=ends) as crm,
        sim_client(small, "recruit", endpoints=ends) as rec,
    ):
        assert crm.base_url() == f"{small.base_url}/us/api"  # from the token response
        assert len(crm.metadata.fields("Leads")) > 5
        assert rec.tokens.api_domain == f"{small.base_url}/us/api"
        assert rec.base_url() == f"{small.base_url}/us/recruit"
        assert rec.bulk_read.export(BulkReadQuery("Candidates"), tmp_path)[0].record_count == 70
    pinned = Endpoints.for_dc(
        "us",
        overrides={
            "accounts": f"{small.base_url}/us/accounts",
            "crm_api": f"{small.base_url}/us/api",
        },
    )
    with sim_client(small, endpoints=pinned) as crm:
        assert crm.base_url() == f"{small.base_url}/us/api"


# -- tokens ---------------------------------------------------------------------------------


def test_token_is_refreshed_shortly_before_expiry(small: SimServer) -> None:
    small.state.configure(token_ttl=62)  # expires_in is a whole number of seconds
    with sim_client(small, refresh_margin_s=61) as client:
        next(client.records.iter_pages("Leads", fields=("Email",), max_pages=1))
        time.sleep(1.05)  # now inside the refresh margin
        next(client.records.iter_pages("Leads", fields=("Email",), max_pages=1))
        stats = small.state.stats.snapshot()
    assert stats["tokens_issued"] == {US.key: 2}
    assert "INVALID_TOKEN" not in stats["errors"]  # refreshed before Zoho had to say no


def test_expired_token_is_refreshed_and_the_call_replayed(small: SimServer) -> None:
    with sim_client(small) as client:
        next(client.records.iter_pages("Leads", fields=("Email",), max_pages=1))
        small.state.clock.advance(3601)  # the access token expires server-side
        page = next(client.records.iter_pages("Leads", fields=("Email",), max_pages=1))
        assert len(page.records) == 200
        assert client.tokens.refresh_count == 2
    stats = small.state.stats.snapshot()
    assert stats["errors"]["INVALID_TOKEN"] == 1


def test_concurrent_401_storm_refreshes_exactly_once(small: SimServer) -> None:
    with sim_client(small) as client:
        job = client.bulk_read.create_job(BulkReadQuery("Leads"))
        small.state.revoke_access_tokens(US.key)
        barrier = threading.Barrier(10)
        failures: list[BaseException] = []
        states: list[JobState] = []

        def poll() -> None:
            barrier.wait()
            try:
                states.append(client.bulk_read.get_job(job.id).state)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=poll) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert len(states) == 10
        assert client.tokens.refresh_count == 2
    stats = small.state.stats.snapshot()
    assert stats["tokens_issued"] == {US.key: 2}
    assert stats["errors"]["INVALID_TOKEN"] >= 1


def test_revoked_refresh_token_is_a_clear_fatal_error(small: SimServer, tmp_path: Path) -> None:
    with sim_client(small) as client:
        next(client.records.iter_pages("Leads", fields=("Email",), max_pages=1))
        small.state.revoke_refresh_token(US.key)
        small.state.revoke_access_tokens(US.key)
        with pytest.raises(AuthError) as info:
            client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
    text = str(info.value)
    assert info.value.code == "invalid_code"
    assert "refresh token" in text
    assert US.refresh_token not in text
    assert US.client_secret not in text


def test_wrong_client_secret_says_what_to_check(small: SimServer) -> None:
    bad = replace(US, client_secret="not-the-secret")
    with sim_client(small, org=bad) as client, pytest.raises(AuthError) as info:
        client.metadata.fields("Leads")
    assert info.value.code == "invalid_client_secret"
    assert "client id, client secret and refresh token" in str(info.value)
    assert "not-the-secret" not in str(info.value)


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_status_bursts_are_retried(small: SimServer, tmp_path: Path, status: int) -> None:
    small.state.add_fault("status", status=status, count=3, path="/crm/bulk/v8/read*")
    with sim_client(small) as client:
        pages = client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
        report = client.meter.report()
    assert sum(p.record_count for p in pages) == 250
    stats = small.state.stats.snapshot()
    assert sum(stats["errors"].values()) == 3
    assert report.credits_by_call_type["bulk_read_create"] == 150  # refused calls not charged


@pytest.mark.parametrize("kind", ["drop_download", "truncate_zip", "corrupt_zip"])
def test_damaged_downloads_are_fetched_again(small: SimServer, tmp_path: Path, kind: str) -> None:
    small.state.add_fault(kind, count=1)
    with sim_client(small) as client:
        pages = client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
    ids = ids_of(pages)
    assert len(ids) == len(set(ids)) == 250
    downloads = small.state.stats.snapshot()["downloads"]
    assert sum(downloads.values()) == 4  # 3 pages + 1 repeat
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{p.job_id}.zip" for p in pages)


def test_failed_job_surfaces_zoho_error_message(small: SimServer, tmp_path: Path) -> None:
    small.state.add_fault("job_failure", count=1)
    with sim_client(small) as client, pytest.raises(BulkJobFailedError) as info:
        client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
    assert info.value.job_id in str(info.value)
    assert info.value.code == "INTERNAL_SERVER_ERROR"  # result.error_message of the job
    assert "Internal server error occurred." in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_slow_job_is_waited_for(small: SimServer, tmp_path: Path) -> None:
    # the job ends when the simulator's clock passes its hour, moved on after two polls (so
    # the count of polls does not depend on how busy the machine is)
    small.state.add_fault("slow_job", count=1, seconds=3600)
    polls: list[str] = []

    def observe(job: BulkReadJob) -> None:
        polls.append(job.raw_state)
        if len(polls) == 2:
            small.state.clock.advance(3600)

    with sim_client(small) as client:
        job = client.bulk_read.create_job(BulkReadQuery("Contacts"))
        done = client.bulk_read.wait(job.id, on_poll=observe)
    assert done.state is JobState.COMPLETED
    assert len(polls) >= 3  # it cannot end before the second poll moved the clock on
    assert polls[-1] == "COMPLETED"
    assert set(polls[:-1]) <= {"ADDED", "QUEUED", "IN PROGRESS"}


# -- paging, Recruit, budget, re-attach -----------------------------------------------------


def test_three_pages_via_next_page_token(small: SimServer, tmp_path: Path) -> None:
    tokens: list[str | None] = []

    class Tokens(BulkReadObserver):
        def job_created(self, query: BulkReadQuery, job: object) -> None:
            tokens.append(query.page_token)

    with sim_client(small) as client:
        query = BulkReadQuery("Leads", fields=("Last_Name", "Email"))
        pages = list(client.bulk_read.iter_pages(query, tmp_path, observer=Tokens()))
    assert [p.record_count for p in pages] == [100, 100, 50]
    assert [p.more_records for p in pages] == [True, True, False]
    assert tokens[0] is None
    assert tokens[1:] == [pages[0].next_page_token, pages[1].next_page_token]
    assert all(t for t in tokens[1:])
    rows = [row for p in pages for row in csv_rows(p.zip_path)]
    assert set(rows[0]) == {"Last_Name", "Email", "id"}
    assert len({r["id"] for r in rows}) == 250


def test_recruit_pages_by_page_number(small: SimServer, tmp_path: Path) -> None:
    small.state.configure(per_page=30)
    with sim_client(small, "recruit") as client:
        pages = client.bulk_read.export(BulkReadQuery("Candidates"), tmp_path)
    assert [p.page for p in pages] == [1, 2, 3]
    assert [p.record_count for p in pages] == [30, 30, 10]
    assert all(p.next_page_token is None for p in pages)
    assert len(set(ids_of(pages))) == 70


def test_budget_exhaustion_raises_before_the_call(small: SimServer, tmp_path: Path) -> None:
    with sim_client(small, budget=90) as client:
        pages: list[DownloadedPage] = []
        walk = client.bulk_read.iter_pages(BulkReadQuery("Leads"), tmp_path)
        pages.append(next(walk))
        with pytest.raises(CreditBudgetExceededError) as info:
            next(walk)
        report = client.meter.report()
    assert len(pages) == 1
    assert info.value.needed == 50
    assert info.value.available == report.budget_left < 50
    stats = small.state.stats.snapshot()
    assert stats["total_jobs"] == 1  # the second create was never sent
    assert stats["credits_used"][US.key] == report.used


def test_reattach_to_an_existing_job_after_a_crash(small: SimServer, tmp_path: Path) -> None:
    query = BulkReadQuery("Leads")
    with sim_client(small) as before_crash:
        job = before_crash.bulk_read.create_job(query)
        state = query.to_state()  # what a ledger would have saved with job.id
    with sim_client(small) as after_restart:
        pages = after_restart.bulk_read.export(
            BulkReadQuery.from_state(state), tmp_path, resume_job_id=job.id
        )
    assert pages[0].job_id == job.id
    assert [p.record_count for p in pages] == [100, 100, 50]
    assert small.state.stats.snapshot()["total_jobs"] == 3  # 1 before the crash + 2 new pages


def test_reattach_to_an_unknown_job(small: SimServer) -> None:
    with sim_client(small) as client, pytest.raises(NotFoundError):
        client.bulk_read.reattach("4876876999999999999")


# -- validation, metadata, REST -----------------------------------------------------------


def test_client_side_validation_uses_metadata_and_sends_nothing(small: SimServer) -> None:
    with sim_client(small) as client:
        bad = BulkReadQuery("Leads", criteria=where("Annual_Revenue").contains("1"))
        with pytest.raises(QueryValidationError, match="Annual_Revenue"):
            client.bulk_read.create_job(bad, check_metadata=True)
        with pytest.raises(QueryValidationError, match="Nope"):
            client.bulk_read.create_job(
                BulkReadQuery("Leads", fields=("Nope",)), check_metadata=True
            )
    assert small.state.stats.snapshot()["total_jobs"] == 0


def test_server_side_query_errors_are_fatal_or_skippable(small: SimServer) -> None:
    with sim_client(small) as client:
        with pytest.raises(InvalidRequestError) as info:
            client.bulk_read.create_job(BulkReadQuery("Leads", fields=("Nope",)))
        assert info.value.http_status == 400
        with pytest.raises(ModuleNotSupportedError):
            client.bulk_read.create_job(BulkReadQuery("Nonexistent_Module"))


def test_criteria_filter_on_the_server(small: SimServer, tmp_path: Path) -> None:
    with sim_client(small) as client:
        fields = client.metadata.fields_by_name("Leads")
        picklist = next(
            f for f in fields.values() if f.data_type == "picklist" and f.picklist_values
        )
        wanted = picklist.picklist_values[0]
        query = BulkReadQuery(
            "Leads", fields=(picklist.api_name,), criteria=where(picklist.api_name).equals(wanted)
        )
        pages = client.bulk_read.export(query, tmp_path, check_metadata=True)
    rows = [r for p in pages for r in csv_rows(p.zip_path)]
    assert 0 < len(rows) < 250
    assert {r[picklist.api_name] for r in rows} == {wanted}


def test_rest_records_pages_deltas_and_deletions(small: SimServer) -> None:
    small.state.configure(records={"Leads": 2300})
    with sim_client(small) as client:
        pages = list(client.records.iter_pages("Leads", fields=("Last_Name",)))
        assert sum(len(p.records) for p in pages) == 2300  # past the 2,000 discrete limit
        assert any(p.next_page_token for p in pages)
        victim = pages[0].records[0]["id"]
        small.state.delete_record(US.key, "crm", "Leads", str(victim))
        deleted = list(client.records.iter_deleted("Leads"))
        assert str(victim) in {str(d["id"]) for d in deleted}
        future = datetime.fromtimestamp(small.state.clock.now() + 3600, tz=UTC)
        assert (
            list(client.records.iter_records("Leads", fields=("Email",), modified_since=future))
            == []
        )


def test_download_rate_limit_is_waited_out(small: SimServer, tmp_path: Path) -> None:
    """Zoho allows 10 downloads a minute; the client's backoff outlasts the 429s."""
    small.state.configure(downloads_per_minute=2)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # a retry wait passes simulated time
        waits.append(seconds)
        small.state.clock.advance(30)

    retry = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.1, jitter=0, sleep=sleep)
    with sim_client(small, retry=retry) as client:
        pages = client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
    assert [p.record_count for p in pages] == [100, 100, 50]
    assert small.state.stats.snapshot()["errors"]["TOO_MANY_REQUESTS"] == len(waits) >= 1


def test_if_modified_since_returns_only_changed_records(small: SimServer) -> None:
    with sim_client(small) as client:
        first = next(client.records.iter_pages("Leads", fields=("Last_Name",)))
        changed = str(first.records[3]["id"])
        small.state.clock.advance(120)
        since = datetime.fromtimestamp(small.state.clock.now() - 60, tz=UTC)
        small.state.update_record(US.key, "crm", "Leads", changed, {"Last_Name": "Changed"})
        delta = list(
            client.records.iter_records("Leads", fields=("Last_Name",), modified_since=since)
        )
    assert [(str(r["id"]), r["Last_Name"]) for r in delta] == [(changed, "Changed")]


def test_read_timeout_is_retried(small: SimServer, caplog: pytest.LogCaptureFixture) -> None:
    small.state.add_fault("delay", seconds=1.0, count=1, path="/crm/v8/settings/fields")
    with sim_client(small, timeouts=Timeouts(connect=2, read=0.3)) as client:
        assert len(client.metadata.fields("Leads")) > 5
    retried = [r for r in caplog.records if r.name == "connectors.retry"]
    assert len(retried) == 1
    assert "ConnectionDroppedError" in retried[0].getMessage()


# -- field names are checked before a job costs credits ------------------------------------


@pytest.mark.parametrize("explicit", [True, False], ids=["field-list", "all-fields"])
def test_a_field_name_zoho_reports_that_is_no_api_name_costs_no_job(
    small: SimServer, tmp_path: Path, explicit: bool
) -> None:
    small.state.add_field(US.key, "crm", "Leads", "Bad Name", "text")
    with sim_client(small) as client:
        names = tuple(f.api_name for f in client.metadata.fields("Leads")) if explicit else ()
        with pytest.raises(QueryValidationError) as info:
            client.bulk_read.export(BulkReadQuery("Leads", fields=names), tmp_path)
        used = client.meter.report().used
    assert "Leads: field 'Bad Name'" in str(info.value)
    stats = small.state.stats.snapshot()
    assert stats["total_jobs"] == 0
    assert used == stats["credits_used"][US.key] == 1  # the metadata call, nothing else
