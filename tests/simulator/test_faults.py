from __future__ import annotations

import io
import zipfile

import pytest
import requests

from simulator.faults import Fault, FaultBook
from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller, read_zip_rows

LEADS = {"module": {"api_name": "Leads"}, "fields": ["Last_Name", "Description"]}


@pytest.mark.parametrize(("status", "code"), [(429, "TOO_MANY_REQUESTS"), (500, "INTERNAL_ERROR"),
                                              (503, "INTERNAL_ERROR")])  # fmt: skip
def test_next_n_calls_fail_with_a_status(
    sim: SimServer, crm: ZohoCaller, status: int, code: str
) -> None:
    sim.state.add_fault("status", status=status, count=2, path="/crm/bulk/v8/read*")
    for _ in range(2):
        response = crm.create(LEADS)
        assert response.status_code == status
        assert response.json()["code"] == code
    other = crm.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Leads"})
    assert other.status_code == 200
    assert crm.create(LEADS).status_code == 201
    assert sim.state.stats.snapshot()["jobs_created"] == {"us-enterprise/crm/Leads": 1}


def test_status_fault_on_the_token_endpoint(sim: SimServer) -> None:
    sim.state.add_fault("status", status=503, path="/oauth/v2/token")
    org = sim.state.org("us-enterprise")
    url = f"{sim.base_url}/us/accounts/oauth/v2/token"
    params = {"grant_type": "refresh_token", "client_id": org.client_id,
              "client_secret": org.client_secret, "refresh_token": org.refresh_token}  # fmt: skip
    assert requests.post(url, params=params, timeout=5).status_code == 503
    assert requests.post(url, params=params, timeout=5).status_code == 200


def test_faults_added_over_http(sim: SimServer, crm: ZohoCaller) -> None:
    added = requests.post(
        f"{sim.base_url}/_sim/faults", json={"kind": "status", "status": 500, "count": -1},
        timeout=5,
    )  # fmt: skip
    assert added.json()["fault"]["count"] == -1
    for _ in range(3):
        assert crm.get(f"{crm.api}/crm/v8/org").status_code == 500
    assert len(requests.get(f"{sim.base_url}/_sim/faults", timeout=5).json()["faults"]) == 1
    requests.delete(f"{sim.base_url}/_sim/faults", timeout=5)
    assert crm.get(f"{crm.api}/crm/v8/org").status_code == 200
    bad = requests.post(f"{sim.base_url}/_sim/faults", json={"kind": "meteor"}, timeout=5)
    assert bad.status_code == 400


def _completed_job(crm: ZohoCaller) -> str:
    job_id = crm.create_ok(LEADS)
    assert crm.wait(job_id)["state"] == "COMPLETED"
    return job_id


def test_connection_dropped_halfway_through_a_download(sim: SimServer, crm: ZohoCaller) -> None:
    job_id = _completed_job(crm)
    sim.state.add_fault("drop_download")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        crm.download(job_id)
    assert len(read_zip_rows(crm.download(job_id).content, job_id)) == 2000


def test_truncated_zip(sim: SimServer, crm: ZohoCaller) -> None:
    job_id = _completed_job(crm)
    whole = crm.download(job_id).content
    sim.state.add_fault("truncate_zip", fraction=0.6)
    response = crm.download(job_id)
    assert response.status_code == 200
    assert len(response.content) == int(len(whole) * 0.6)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))


def test_corrupt_zip_fails_its_crc(sim: SimServer, crm: ZohoCaller) -> None:
    job_id = _completed_job(crm)
    whole = crm.download(job_id).content
    sim.state.add_fault("corrupt_zip")
    broken = crm.download(job_id).content
    assert len(broken) == len(whole)
    assert broken != whole
    with zipfile.ZipFile(io.BytesIO(broken)) as archive:
        assert archive.testzip() == f"{job_id}.csv"
        with pytest.raises(zipfile.BadZipFile, match="CRC"):
            archive.read(f"{job_id}.csv")


def test_download_faults_can_target_one_job(sim: SimServer, crm: ZohoCaller) -> None:
    first, second = _completed_job(crm), _completed_job(crm)
    sim.state.add_fault("truncate_zip", path=f"*/{second}/result")
    assert len(read_zip_rows(crm.download(first).content, first)) == 2000
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(crm.download(second).content))


def test_job_failure_can_target_a_module(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("job_failure", path="/crm/Deals")
    leads = crm.create_ok(LEADS)
    deals = crm.create_ok({"module": {"api_name": "Deals"}})
    assert crm.wait(leads)["state"] == "COMPLETED"
    assert crm.wait(deals)["state"] == "FAILURE"


def test_faults_scoped_to_another_org_do_not_fire(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("job_failure", org="eu-professional")
    assert crm.wait(crm.create_ok(LEADS))["state"] == "COMPLETED"


def test_fault_book_counts_down() -> None:
    book = FaultBook()
    book.add(Fault("status", count=2, path="/a*"))
    assert book.take("status", "/b") is None
    assert book.take("status", "/abc") is not None
    assert book.take("status", "/abc") is not None
    assert book.take("status", "/abc") is None
    assert book.active() == []


@pytest.mark.parametrize(
    "options",
    [
        {"kind": "meteor"},
        {"kind": "status", "status": 404},
        {"kind": "truncate_zip", "fraction": 1.0},
    ],
)
def test_invalid_faults_are_rejected(options: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):  # noqa: PT011
        Fault(**options)


def test_retry_after_on_429_when_configured(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("status", status=429, seconds=7)
    assert crm.get(f"{crm.api}/crm/v8/org").headers["Retry-After"] == "7"
    sim.state.add_fault("status", status=429)
    assert "Retry-After" not in crm.get(f"{crm.api}/crm/v8/org").headers
    sim.state.configure(retry_after=3)
    sim.state.add_fault("status", status=429)
    assert crm.get(f"{crm.api}/crm/v8/org").headers["Retry-After"] == "3"
    sim.state.configure(downloads_per_minute=0)
    limited = crm.download("123")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"


def test_status_faults_can_target_one_org(sim: SimServer, crm: ZohoCaller) -> None:
    sim.state.add_fault("status", status=500, org="eu-professional", count=-1)
    assert crm.get(f"{crm.api}/crm/v8/org").status_code == 200
    eu = ZohoCaller(sim, "eu-professional")
    assert eu.get(f"{eu.api}/crm/v8/org").status_code == 500
    eu.close()
