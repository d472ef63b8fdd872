"""Helpers for simulator tests: an authenticated ``ZohoCaller`` over plain ``requests``."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from simulator.testing import SimServer
from tests.simulator.writes import Writer


class ZohoCaller:
    """Minimal client: one org, one product, real HTTP against the simulator."""

    def __init__(
        self, sim: SimServer, org_key: str = "us-enterprise", product: str = "crm"
    ) -> None:
        self.sim = sim
        self.org = sim.state.org(org_key)
        self.product = product
        self.session = requests.Session()
        self.token = self.refresh()
        self.api = f"{sim.base_url}/{self.org.dc}/api"
        self.host = self.api if product == "crm" else f"{sim.base_url}/{self.org.dc}/recruit"
        self.bulk = (
            f"{self.api}/crm/bulk/v8/read"
            if product == "crm"
            else f"{self.host}/recruit/bulk/v2/read"
        )

    def refresh(self) -> str:
        response = self.session.post(
            f"{self.sim.base_url}/{self.org.dc}/accounts/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": self.org.client_id,
                "client_secret": self.org.client_secret,
                "refresh_token": self.org.refresh_token,
            },
        )
        body = response.json()
        assert "access_token" in body, body
        return str(body["access_token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.token}"}

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.get(
            url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.post(url, headers=headers, **kwargs)

    def create(self, query: dict[str, Any], **extra: Any) -> requests.Response:
        return self.post(self.bulk, json={"query": query, **extra})

    def create_ok(self, query: dict[str, Any]) -> str:
        response = self.create(query)
        assert response.status_code == 201, response.text
        return str(response.json()["data"][0]["details"]["id"])

    def details(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"{self.bulk}/{job_id}")
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()["data"][0]
        return detail

    def wait(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            detail = self.details(job_id)
            if detail["state"] in ("COMPLETED", "FAILURE"):
                return detail
            assert time.monotonic() < deadline, f"job {job_id} still {detail['state']}"
            time.sleep(0.05)

    def download(self, job_id: str) -> requests.Response:
        return self.get(f"{self.bulk}/{job_id}/result")

    def rows(self, job_id: str) -> list[dict[str, str]]:
        response = self.download(job_id)
        assert response.status_code == 200, response.text
        return read_zip_rows(response.content, job_id)

    def read_all(self, query: dict[str, Any]) -> list[dict[str, str]]:
        job_id = self.create_ok(query)
        detail = self.wait(job_id)
        assert detail["state"] == "COMPLETED", detail
        return self.rows(job_id)

    def close(self) -> None:
        self.session.close()


def read_zip_rows(content: bytes, job_id: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == [f"{job_id}.csv"]
        text = archive.read(f"{job_id}.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


FAST_JOBS = (0.0, 0.05)


@pytest.fixture
def crm(sim: SimServer) -> Iterator[ZohoCaller]:
    sim.state.configure(job_seconds=FAST_JOBS)  # tests about timing set their own
    caller = ZohoCaller(sim)
    yield caller
    caller.close()


@pytest.fixture
def recruit(sim: SimServer) -> Iterator[ZohoCaller]:
    sim.state.configure(job_seconds=FAST_JOBS)
    caller = ZohoCaller(sim, product="recruit")
    yield caller
    caller.close()


@pytest.fixture
def w(crm: ZohoCaller) -> Writer:
    return Writer(crm)
