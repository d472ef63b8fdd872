"""A ``CreatorCaller``: plain ``requests`` against the simulator's Creator API, one org."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from simulator.creator.state import CreatorState, creator_state
from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller

ORDERS = "order-desk/report/All_Orders"


class CreatorCaller(ZohoCaller):
    def __init__(self, sim: SimServer, org_key: str = "us-enterprise") -> None:
        super().__init__(sim, org_key)
        self.creator: CreatorState = creator_state(sim.state)
        self.owner = self.creator.account(self.org).owner
        self.root = f"{self.api}/creator/v2.1"

    def data(self, path: str = ORDERS) -> str:
        return f"{self.root}/data/{self.owner}/{path}"

    def bulk_url(self, path: str = ORDERS) -> str:
        return f"{self.root}/bulk/{self.owner}/{path}/read"

    def delete(self, path: str = ORDERS, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.delete(self.data(path), headers=headers, **kwargs)

    def create_job(self, query: dict[str, Any], path: str = ORDERS) -> dict[str, Any]:
        response = self.post(self.bulk_url(path), json={"query": query})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["code"] == 3000, body
        return body["details"]

    def advance(self, seconds: float) -> None:
        """Move the simulator clock; a fresh token (tokens live an hour of simulator time)."""
        self.sim.state.clock.advance(seconds)
        self.token = self.refresh()

    def finish(self, job_id: str, path: str = ORDERS) -> dict[str, Any]:
        """Move the clock past the job's processing time and return its status details."""
        self.sim.state.clock.advance(1.0)
        response = self.get(f"{self.bulk_url(path)}/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()["details"]

    def download_rows(self, job_id: str, path: str = ORDERS) -> tuple[list[str], requests.Response]:
        response = self.get(f"{self.bulk_url(path)}/{job_id}/result")
        assert response.status_code == 200, response.text
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            (name,) = archive.namelist()
            lines = archive.read(name).decode("utf-8").splitlines()
        return lines, response


@pytest.fixture
def creator(sim: SimServer) -> Iterator[CreatorCaller]:
    caller = CreatorCaller(sim)
    yield caller
    caller.close()
