from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from engine.callbacks import CALLBACK_PATH, CallbackReceiver, job_ids
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import utcnow
from engine.runtime import Runtime, open_runtime
from engine.settings import ZohoConnection
from simulator.testing import SimServer
from tests.conftest import fast_settings

ORG = "us-enterprise"


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver("127.0.0.1:0")
    yield server
    server.close()


def post(url: str, body: object) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, timeout=5).status_code


def test_a_callback_wakes_the_page_waiting_for_its_job(receiver: CallbackReceiver) -> None:
    receiver.expect("42")
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(receiver.wait_for("42", 5.0)))
    waiter.start()
    assert post(receiver.url, {"data": [{"id": "42", "state": "COMPLETED"}]}) == 200
    waiter.join()
    assert woke == [True]


def test_a_callback_before_the_wait_or_the_expect_is_kept(receiver: CallbackReceiver) -> None:
    receiver.expect("7")
    assert post(receiver.url, {"data": [{"id": "7", "state": "FAILURE"}]}) == 200
    assert receiver.wait_for("7", 0.01)
    assert post(receiver.url, {"data": [{"id": "9", "state": "COMPLETED"}]}) == 200
    receiver.expect("9")  # the callback beat the create call's response
    assert receiver.wait_for("9", 0.01)
    receiver.expect("8")
    assert not receiver.wait_for("8", 0.05)  # no callback: the caller polls


def test_the_time_a_callback_came_is_the_job_s_end(receiver: CallbackReceiver) -> None:
    receiver.expect("5")
    before = utcnow()
    assert post(receiver.url, {"data": [{"id": "5", "state": "COMPLETED"}]}) == 200
    after = utcnow()
    time.sleep(0.3)  # the page was busy loading: the wait comes later than the callback
    assert receiver.wait_for("5", 0.01)
    ended = receiver.ended_at("5")
    assert ended is not None
    assert before <= ended <= after
    assert receiver.ended_at("5") is None  # told once
    assert receiver.ended_at("never-expected") is None


def test_a_job_this_process_did_not_create_is_not_waited_for(
    receiver: CallbackReceiver,
) -> None:
    # an hour's timeout: a wait would hang the test, the answer must come without one
    answers: list[bool] = []
    waiter = threading.Thread(
        target=lambda: answers.append(receiver.wait_for("created-before-a-crash", 3600.0)),
        daemon=True,
    )
    waiter.start()
    waiter.join(120)
    assert answers == [False]


def test_bad_callbacks_are_refused_and_wake_nobody(receiver: CallbackReceiver) -> None:
    base = receiver.url.removesuffix(CALLBACK_PATH)
    assert post(base + "/elsewhere", {"data": [{"id": "1"}]}) == 404
    assert post(receiver.url, b"not json") == 400
    assert post(receiver.url, {"data": "1"}) == 400
    receiver.expect("1")
    assert not receiver.wait_for("1", 0.05)


@pytest.mark.parametrize("length", ["abc", "-5", "", "1e3"])
def test_a_bad_content_length_is_answered_400_and_logged_in_one_line(
    receiver: CallbackReceiver,
    length: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, port = receiver.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    request = (
        f"POST {CALLBACK_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with (
        socket.create_connection((host, int(port)), timeout=30) as conn,
        caplog.at_level(logging.WARNING, logger="engine.callbacks"),
    ):
        conn.sendall(request)
        answer = conn.makefile("rb").readline()
    assert answer.split()[1] == b"400"
    refused = [r.getMessage() for r in caplog.records if r.name == "engine.callbacks"]
    assert len(refused) == 1
    assert "Content-Length" in refused[0]
    assert "Traceback" not in capfd.readouterr().err


def test_job_ids_reads_zohos_envelope() -> None:
    assert job_ids(b'{"data": [{"id": 1}, {"id": "2"}, {"state": "x"}]}') == ["1", "2"]
    assert job_ids(b"[]") == job_ids(b"\xff") == []


def test_listen_must_be_host_and_port() -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        CallbackReceiver("localhost")


def test_with_callbacks_a_job_costs_one_status_call(
    sim: SimServer, connection: ZohoConnection, tmp_path: Path
) -> None:
    sim.state.configure(per_page=800, job_seconds=(0.3, 0.4))
    settings = fast_settings(tmp_path, callback_listen="127.0.0.1:0")
    rt: Runtime = open_runtime(connection, settings)
    try:
        assert rt.callbacks is not None
        summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    finally:
        rt.close()
    deadline = time.monotonic() + 60  # the simulator counts a callback once its POST returned
    while len(sim.state.stats.snapshot()["callbacks"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = sim.state.stats.snapshot()
    assert summary.rows_loaded == len(sim.state.store(ORG, "crm", "Leads")) == 2000
    assert summary.pages == 3
    # without callbacks 0.3 s jobs polled from 0.05 s cost several status calls each
    assert sorted(stats["polls"].values()) == [1, 1, 1]
    assert len(stats["callbacks"]) == 3


def test_a_callback_to_a_create_address_names_the_job_of_that_create(
    receiver: CallbackReceiver,
) -> None:
    token, url = receiver.new_address()
    other_token, _ = receiver.new_address()
    assert token != other_token
    assert url.startswith(receiver.url + "/")
    found: list[str | None] = []
    waiter = threading.Thread(target=lambda: found.append(receiver.job_for(token, 30.0)))
    waiter.start()
    assert post(url, {"data": [{"id": "311", "state": "COMPLETED"}]}) == 200
    waiter.join()
    assert found == ["311"]
    assert receiver.job_for(other_token, 0.01) is None  # nothing came to that address
    receiver.expect("311")  # the plain per-job wake-up works for it as well
    assert receiver.wait_for("311", 0.01)


def test_a_callback_address_with_a_bad_token_is_not_found(receiver: CallbackReceiver) -> None:
    body = {"data": [{"id": "5", "state": "COMPLETED"}]}
    assert post(receiver.url + "/../x", body) == 404
    assert post(receiver.url + "/a%20b", body) == 404
    assert post(receiver.url + "/" + "t" * 65, body) == 404
