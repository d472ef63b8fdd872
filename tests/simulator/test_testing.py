from __future__ import annotations

import socket

import pytest
import requests

from simulator.config import SimConfig
from simulator.testing import SimServer


def test_server_starts_on_a_free_port_and_stops_cleanly() -> None:
    with SimServer(SimConfig(records={"Leads": 10})) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.url("eu", "api") == f"{server.base_url}/eu/api"
        response = requests.get(f"{server.base_url}/_sim/clock", timeout=5)
        assert response.status_code == 200
        port = server.port
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_server_on_a_given_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with SimServer(port=free) as server:
        assert server.port == free
        assert requests.get(f"{server.base_url}/_sim/orgs", timeout=5).status_code == 200


def test_url_rejects_unknown_dc_and_service(sim: SimServer) -> None:
    with pytest.raises(ValueError, match="data centre"):
        sim.url("mars", "api")
    with pytest.raises(ValueError, match="service"):
        sim.url("us", "ftp")


def test_base_url_before_start_is_an_error() -> None:
    server = SimServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    server.state.close()


def test_reset_restores_defaults(sim: SimServer) -> None:
    sim.state.configure(per_page=7)
    sim.state.clock.advance(100)
    sim.state.add_fault("status", status=500)
    sim.reset()
    assert sim.state.config.per_page == 200_000
    assert sim.state.clock.offset == 0
    assert sim.state.faults.active() == []


def test_unknown_path_is_invalid_url_pattern(sim: SimServer) -> None:
    response = requests.get(f"{sim.base_url}/us/api/crm/v8/nothing/here/at/all", timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == "INVALID_URL_PATTERN"


def test_wrong_method_is_invalid_request_method(sim: SimServer) -> None:
    response = requests.delete(f"{sim.base_url}/us/accounts/oauth/v2/token", timeout=5)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST_METHOD"
