"""No secret (client secret, refresh token, access token) in any log record or exception text.

A whole export runs against the simulator with DEBUG logging on every logger (urllib3
included) and with the faults that make the client log the most: 429s, a dropped download,
a 401 storm after revoked access tokens, a failed job, a refused refresh.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.bulk_read import BulkReadQuery
from connectors.errors import AuthError, BulkJobFailedError, ZohoError
from connectors.http import build_session
from simulator.testing import SimServer
from tests.connectors.simhelpers import US, sim_client


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


def token_spy(session: requests.Session, seen: list[str]) -> None:
    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.url and response.request.url.endswith("/oauth/v2/token"):
            token = (response.json() or {}).get("access_token")
            if token:
                seen.append(token)

    session.hooks["response"].append(hook)


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


@pytest.mark.timeout(120)
def test_no_secret_in_logs_or_exceptions(sim: SimServer, tmp_path: Path) -> None:
    sim.state.configure(records={"Leads": 250}, per_page=100, job_seconds=(0.01, 0.03))
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    # a flow run earlier in the session gives the library loggers Prefect's level (INFO)
    library = logging.getLogger("connectors")
    old_library_level = library.level
    library.setLevel(logging.DEBUG)
    access_tokens: list[str] = []
    texts: list[str] = []
    try:
        session = build_session()
        token_spy(session, access_tokens)
        with sim_client(sim, session=session) as client:
            sim.state.add_fault("status", status=429, count=2, path="/crm/bulk/v8/read")
            sim.state.add_fault("drop_download", count=1)
            walk = client.bulk_read.iter_pages(BulkReadQuery("Leads", fields=("Email",)), tmp_path)
            first = next(walk)
            sim.state.revoke_access_tokens(US.key)  # the next call gets 401, then refreshes
            rest = list(walk)
            assert first.record_count + sum(p.record_count for p in rest) == 250
            assert len(client.metadata.fields("Leads")) > 0
            assert len(next(client.records.iter_pages("Leads", fields=("Email",))).records) > 0
            sim.state.add_fault("job_failure", count=1)
            with pytest.raises(BulkJobFailedError) as failed:
                client.bulk_read.export(BulkReadQuery("Leads"), tmp_path / "failed")
            texts += exception_texts(failed.value)
            sim.state.revoke_refresh_token(US.key)
            sim.state.revoke_access_tokens(US.key)
            client.metadata.clear_cache()
            with pytest.raises(AuthError) as revoked:
                client.metadata.fields("Leads")
            texts += exception_texts(revoked.value)
            texts += [repr(client.tokens), repr(client.http.meter.report())]
        bad = replace(US, client_secret="wrong-" + US.client_secret)
        with sim_client(sim, org=bad) as wrong, pytest.raises(ZohoError) as refused:
            wrong.bulk_read.export(BulkReadQuery("Leads"), tmp_path / "refused")
        texts += exception_texts(refused.value)
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        library.setLevel(old_library_level)
    assert len(access_tokens) >= 2  # the initial token and the one after the 401 storm
    assert any(r.name.startswith("urllib3") for r in capture.records)
    assert any(
        r.name.startswith("connectors") and r.levelno == logging.DEBUG for r in capture.records
    )
    assert any("retrying" in t for t in capture.texts)  # the faults were really logged
    secrets = [US.client_secret, "wrong-" + US.client_secret, US.refresh_token, *access_tokens]
    haystack = capture.texts + texts
    for secret in secrets:
        leaks = [t for t in haystack if secret in t]
        assert leaks == [], f"secret leaked into {len(leaks)} texts, e.g. {leaks[0][:200]!r}"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
