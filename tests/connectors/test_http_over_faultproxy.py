"""The HTTP core's host check and lost-answer rules, end to end: the real clients talk to the
simulator through a fault proxy on 127.0.0.1 (``tests.support.faultproxy``).

Lost answer: the proxy forwards a POST, the simulator acts on it, and the proxy closes the
connection without answering. Foreign host: the proxy rewrites a job's ``download_url`` to
another listener that records whether it ever received an ``Authorization`` header.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.bulk_read import BulkReadQuery
from connectors.bulk_write import BulkWriteClient
from connectors.client import ZohoClient
from connectors.datacenters import Endpoints
from connectors.errors import FatalError, ForeignHostError, OutcomeUnknownError
from connectors.http import Timeouts
from engine.writeback.driver import write_table
from simulator.testing import SimServer
from simulator.write_processing import wait_write_jobs
from tests.connectors.simhelpers import US, sim_client
from tests.support.faultproxy import FaultProxy, ForeignHost, Rule
from transforms.writeback import FieldMapping, WriteMapping

ORG = US.key
READ_CREATE = "*/crm/bulk/v8/read"
WRITE_CREATE = "*/crm/bulk/v8/write"
UPLOAD = "*/crm/v8/upload"


@pytest.fixture
def small(sim: SimServer) -> SimServer:
    sim.state.configure(records={"Leads": 250}, per_page=100, job_seconds=(0.01, 0.03))
    return sim


@pytest.fixture
def proxy(small: SimServer) -> Iterator[FaultProxy]:
    with FaultProxy(small.base_url) as running:
        yield running


@pytest.fixture
def client(small: SimServer, proxy: FaultProxy) -> Iterator[ZohoClient]:
    """A client whose every host (accounts, API, upload, download) is the proxy."""
    endpoints = Endpoints.for_simulator(proxy.base_url, US.dc)
    with sim_client(small, endpoints=endpoints, org_id=US.zgid) as through_proxy:
        yield through_proxy


def spent(sim: SimServer) -> int:
    return int(sim.state.stats.snapshot()["credits_used"].get(ORG, 0))


def jobs(sim: SimServer, suffix: str = "") -> int:
    created = sim.state.stats.snapshot()["jobs_created"]
    return sum(n for key, n in created.items() if key.startswith(ORG) and key.endswith(suffix))


def leads_rows(n: int) -> pa.Table:
    return pa.table(
        {
            "last": [f"Lost{i:03d}" for i in range(n)],
            "company": [f"Answer Co {i}" for i in range(n)],
        }
    )


LEADS_INSERT = WriteMapping(
    "Leads", "insert", (FieldMapping("Last_Name", "last"), FieldMapping("Company", "company"))
)


def leads_count(sim: SimServer) -> int:
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    return len(store)


# -- item 3: the token goes to Zoho's hosts only -------------------------------------------


def test_a_foreign_bulk_read_download_url_is_refused_and_gets_nothing(
    small: SimServer, proxy: FaultProxy, client: ZohoClient, tmp_path: Path
) -> None:
    with ForeignHost() as foreign:

        def elsewhere(body: Any) -> Any:
            for job in body.get("data", []):
                result = job.get("result") or {}
                if result.get("download_url"):
                    result["download_url"] = foreign.base_url + "/crm/bulk/v8/read/x/result"
            return body

        proxy.add(
            Rule("GET", "*/crm/bulk/v8/read/*", "rewrite_json", times=1000, rewrite=elsewhere)
        )
        with pytest.raises(ForeignHostError) as info:
            client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
    assert foreign.seen == []  # nothing at all was sent there, let alone the token
    assert isinstance(info.value, FatalError)
    assert f"{foreign.host}:{foreign.port}" in str(info.value)
    assert info.value.host == f"{foreign.host}:{foreign.port}"
    assert not list(tmp_path.glob("*.zip"))


def test_a_foreign_bulk_write_download_url_is_refused_and_gets_nothing(
    small: SimServer, proxy: FaultProxy, client: ZohoClient
) -> None:
    with ForeignHost() as foreign:

        def elsewhere(body: Any) -> Any:
            if isinstance(body.get("result"), dict):
                body["result"]["download_url"] = foreign.base_url + "/v2/crm/1/bulk-write/x.zip"
            return body

        proxy.add(Rule("GET", WRITE_CREATE + "/*", "rewrite_json", times=1000, rewrite=elsewhere))
        writer = BulkWriteClient.for_client(client)
        with pytest.raises(ForeignHostError) as info:
            write_table(leads_rows(3), LEADS_INSERT, client.metadata.fields("Leads"), writer)
    assert foreign.seen == []
    assert foreign.host in str(info.value)
    assert str(foreign.port) in str(info.value)


def test_a_token_whose_api_domain_names_a_foreign_host_gets_no_request(
    small: SimServer, proxy: FaultProxy, client: ZohoClient
) -> None:
    with ForeignHost() as foreign:

        def elsewhere(body: Any) -> Any:
            body["api_domain"] = foreign.base_url + "/us/api"
            return body

        proxy.add(Rule("POST", "*/oauth/v2/token", "rewrite_json", rewrite=elsewhere))
        with pytest.raises(ForeignHostError) as info:
            client.metadata.fields("Leads")
    assert foreign.seen == []
    assert info.value.host == f"{foreign.host}:{foreign.port}"


# -- item 2: a POST whose answer is lost is never blindly repeated --------------------------


def test_a_lost_bulk_read_create_answer_is_resent_once_and_every_credit_counted(
    small: SimServer, proxy: FaultProxy, client: ZohoClient, tmp_path: Path
) -> None:
    rule = proxy.add(Rule("POST", READ_CREATE, "drop_after"))
    pages = client.bulk_read.export(BulkReadQuery("Leads"), tmp_path)
    assert rule.fired == 1
    ids = [row for p in pages for row in _ids(p.zip_path)]
    assert len(ids) == len(set(ids)) == 250  # rows exactly once
    # Zoho lists no jobs, so the lost job cannot be adopted: one orphan, counted and charged
    assert jobs(small, "/Leads") == len(pages) + 1
    report = client.meter.report()
    assert report.credits_by_call_type["bulk_read_create"] == 50 * (len(pages) + 1)
    assert report.used == spent(small)  # credits reported = credits spent


def test_a_bulk_read_create_that_must_not_be_resent_raises_on_a_lost_answer(
    small: SimServer, proxy: FaultProxy, client: ZohoClient
) -> None:
    # the engine's choice when a callback can name the lost job (engine.pages)
    rule = proxy.add(Rule("POST", READ_CREATE, "drop_after"))
    with pytest.raises(OutcomeUnknownError):
        client.bulk_read.create_job(BulkReadQuery("Leads"), resend_lost=False)
    assert rule.fired == 1
    assert jobs(small, "/Leads") == 1  # sent once: the one job Zoho made
    assert client.meter.report().used == spent(small)


def test_a_lost_upload_answer_is_resent_and_the_rows_are_written_once(
    small: SimServer, proxy: FaultProxy, client: ZohoClient
) -> None:
    rule = proxy.add(Rule("POST", UPLOAD, "drop_after"))
    before = leads_count(small)
    writer = BulkWriteClient.for_client(client)
    report = write_table(leads_rows(25), LEADS_INSERT, client.metadata.fields("Leads"), writer)
    assert rule.fired == 1
    assert report.counts["added"] == 25
    assert leads_count(small) - before == 25  # records in the simulator = input rows
    assert jobs(small, "#write") == 1  # jobs created = chunks
    assert client.meter.report().used == spent(small)


def test_a_lost_bulk_write_create_answer_is_not_resent(
    small: SimServer, proxy: FaultProxy, client: ZohoClient
) -> None:
    rule = proxy.add(Rule("POST", WRITE_CREATE, "drop_after"))
    before = leads_count(small)
    writer = BulkWriteClient.for_client(client)
    with pytest.raises(OutcomeUnknownError) as info:
        write_table(leads_rows(25), LEADS_INSERT, client.metadata.fields("Leads"), writer)
    assert rule.fired == 1
    assert isinstance(info.value, FatalError)  # terminal: no layer retries it
    assert "bulk write create for Leads (operation insert" in str(info.value)
    assert "Import History" in str(info.value)
    assert jobs(small, "#write") == 1  # the one job Zoho accepted; nothing sent twice
    writes = [s for s in proxy.seen if s.method == "POST" and s.path.endswith("/bulk/v8/write")]
    assert len(writes) == 1
    wait_write_jobs(small.state)
    assert leads_count(small) - before == 25  # written once, not 50 records for 25 rows
    assert client.meter.report().used == spent(small)


def _ids(zip_path: Path) -> list[str]:
    from tests.connectors.simhelpers import csv_rows

    return [row["id"] for row in csv_rows(zip_path)]


def test_a_bulk_write_create_that_times_out_after_sending_is_not_resent(
    small: SimServer, proxy: FaultProxy
) -> None:
    # the proxy holds the create for 1 s before forwarding; the client stops reading at 0.3 s
    rule = proxy.add(Rule("POST", WRITE_CREATE, "delay", seconds=1.0))
    endpoints = Endpoints.for_simulator(proxy.base_url, US.dc)
    impatient = sim_client(small, endpoints=endpoints, org_id=US.zgid, timeouts=Timeouts(read=0.3))
    with impatient:
        writer = BulkWriteClient.for_client(impatient)
        with pytest.raises(OutcomeUnknownError, match="TIMEOUT"):
            write_table(leads_rows(5), LEADS_INSERT, impatient.metadata.fields("Leads"), writer)
    deadline = time.monotonic() + 120  # a generous wait, not a timing assert
    while jobs(small, "#write") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the proxy forwards the held request after the client gave up
    wait_write_jobs(small.state)
    assert rule.fired == 1
    assert jobs(small, "#write") == 1
