from __future__ import annotations

import pytest

from connectors.creator import CreatorClient
from connectors.creator_api import CreatorAllowance
from connectors.creator_errors import CreatorDailyLimitError
from connectors.errors import (
    CreditBudgetExceededError,
    NotFoundError,
    QueryValidationError,
    RateLimitedError,
    TokenRejectedError,
)
from connectors.retry import RetryPolicy
from simulator.config import DEFAULT_ORGS
from simulator.testing import SimServer
from tests.connectors.creatorhelpers import OWNER, creator_client, sim_creator

NO_RETRY = RetryPolicy(max_attempts=1, initial_wait=0, jitter=0)


def test_meta_calls(sim: SimServer) -> None:
    client = creator_client(sim)
    apps = {a.link_name: a for a in client.applications()}
    assert apps["order-desk"].owner == OWNER
    assert (apps["order-desk"].date_format, apps["order-desk"].time_zone) == (
        "dd-MMM-yyyy",
        "Asia/Kolkata",
    )
    assert [a.link_name for a in client.applications(OWNER)] == list(apps)
    assert {r["link_name"] for r in client.reports(OWNER, "order-desk")} == {
        "All_Customers",
        "All_Orders",
    }
    assert [f["link_name"] for f in client.forms(OWNER, "order-desk")] == ["Customer", "Order"]
    fields = {f.link_name: f for f in client.fields(OWNER, "order-desk", "Order")}
    assert fields["Tags"].type == 14
    assert fields["Tags"].choices == ("Urgent", "Fragile", "VIP", "Bulk")
    with pytest.raises(NotFoundError) as caught:
        client.reports(OWNER, "no-such-app")
    assert caught.value.code == "2892"


def test_connect_refuses_a_data_centre_without_creator() -> None:
    creds = None
    with pytest.raises(ValueError, match="not known in data centre 'uk'"):
        CreatorClient.connect(creds, dc="uk")  # type: ignore[arg-type]


def test_record_cursor_loop_reads_every_record_once(sim: SimServer) -> None:
    sim_creator(sim).configure(records={"order-desk/Order": 2_300})
    client = creator_client(sim)
    pages = list(client.iter_records(OWNER, "order-desk", "All_Orders", max_records=1000))
    assert [len(p) for p in pages] == [1000, 1000, 300]
    ids = [r["ID"] for page in pages for r in page]
    assert len(set(ids)) == 2_300
    assert client.http.meter.report().calls == {"get_records": 3}
    closed = client.iter_records(
        OWNER, "order-desk", "All_Orders", criteria='Status == "Closed"', fields=["Status"]
    )
    assert {r["Status"] for page in closed for r in page} == {"Closed"}


def test_no_match_is_an_empty_iteration(sim: SimServer) -> None:
    client = creator_client(sim)
    assert list(client.iter_records(OWNER, "order-desk", "All_Orders", criteria="ID == 1")) == []
    with pytest.raises(QueryValidationError):
        next(client.iter_records(OWNER, "order-desk", "All_Orders", max_records=300))


def test_delete_1050_records_takes_6_calls_and_reports_failures(sim: SimServer) -> None:
    creator = sim_creator(sim)
    store = creator.form_store("us-enterprise", "order-desk", "Order")
    base = store.values.base_id
    criteria = f"ID >= {base + 100} && ID < {base + 1150}"
    locked = [str(base + 100), str(base + 640), str(base + 1149)]
    creator.lock_records("us-enterprise", "order-desk", "Order", locked)
    client = creator_client(sim)
    summary = client.delete_records(OWNER, "order-desk", "All_Orders", criteria)
    assert summary.calls == 6
    assert len(summary.deleted) == len(set(summary.deleted)) == 1_047
    assert sorted(f[0] for f in summary.failed) == sorted(locked)
    assert {f[1:] for f in summary.failed} == {(3001, "Failed to Delete Data.")}
    assert not summary.nothing_matched
    again = client.delete_records(OWNER, "order-desk", "All_Orders", criteria)
    assert (again.calls, again.deleted, len(again.failed)) == (1, [], 3)
    store.locked.clear()
    client.delete_records(OWNER, "order-desk", "All_Orders", criteria)
    done = client.delete_records(OWNER, "order-desk", "All_Orders", criteria)
    assert (done.calls, done.deleted, done.nothing_matched) == (1, [], True)
    with pytest.raises(QueryValidationError):
        client.delete_records(OWNER, "order-desk", "All_Orders", " ")


def test_per_minute_limit_is_rate_limited(sim: SimServer) -> None:
    sim_creator(sim).configure(per_minute=1)
    client = creator_client(sim, retry=NO_RETRY)
    client.applications()
    with pytest.raises(RateLimitedError) as caught:
        client.applications()
    assert (caught.value.http_status, caught.value.code) == (429, "2955")


def test_daily_cap_from_the_server_is_a_budget_error(sim: SimServer) -> None:
    creator = sim_creator(sim)
    org = DEFAULT_ORGS[0]
    allowance = creator.account(org).daily_allowance
    while creator.daily.take(org.key, org.utc_offset_minutes, allowance):
        pass
    client = creator_client(sim)
    with pytest.raises(CreatorDailyLimitError) as caught:
        client.applications()
    assert isinstance(caught.value, CreditBudgetExceededError)
    assert (caught.value.http_status, caught.value.code) == (200, "4000")


def test_the_meter_stops_before_the_call_that_would_exceed_the_day(sim: SimServer) -> None:
    creator = sim_creator(sim)
    org = DEFAULT_ORGS[0]
    meter = CreatorAllowance("free").meter(used_today=248)
    client = creator_client(sim, meter=meter)
    client.applications()
    client.reports(OWNER, "order-desk")
    used = creator.daily.used(org.key, org.utc_offset_minutes)
    with pytest.raises(CreditBudgetExceededError):
        client.forms(OWNER, "order-desk")
    assert creator.daily.used(org.key, org.utc_offset_minutes) == used  # never sent


def test_missing_scope_and_expired_token(sim: SimServer) -> None:
    client = creator_client(sim)
    client.applications()
    sim.state.revoke_access_tokens("us-enterprise")
    assert client.applications()  # 1030: refreshed once and replayed
    assert client.http.tokens is not None
    assert client.http.tokens.refresh_count == 2
    sim_creator(sim).revoke_scope("us-enterprise", "ZohoCreator.report.DELETE")
    with pytest.raises(TokenRejectedError) as caught:
        client.delete_records(OWNER, "order-desk", "All_Orders", "ID == 1")
    assert caught.value.code == "2945"
    assert "ZohoCreator" in caught.value.hint


def test_server_errors_are_retried(sim: SimServer) -> None:
    sim_creator(sim)
    sim.state.add_fault("status", status=503, count=2, path="/creator/v2.1/meta/*")
    client = creator_client(sim)
    assert client.applications()
    assert client.http.meter.report().calls == {"metadata": 1}  # refused attempts are refunded
