"""Helpers for the tests that run the connectors against the simulator over loopback HTTP."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from connectors.auth import OAuthCredentials
from connectors.bulk_read import PollPolicy
from connectors.client import ZohoClient
from connectors.datacenters import Endpoints
from connectors.retry import RetryPolicy
from simulator.config import DEFAULT_ORGS, OrgSpec
from simulator.testing import SimServer

FAST_POLL = PollPolicy(initial=0.02, factor=1.5, max_interval=0.1, timeout=30)
FAST_RETRY = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.1, jitter=0.01)
US = DEFAULT_ORGS[0]


def credentials(org: OrgSpec = US) -> OAuthCredentials:
    return OAuthCredentials.of(org.client_id, org.client_secret, org.refresh_token)


def sim_client(sim: SimServer, product: str = "crm", org: OrgSpec = US, **kw: Any) -> ZohoClient:
    kw.setdefault("poll", FAST_POLL)
    kw.setdefault("retry", FAST_RETRY)
    endpoints = kw.pop("endpoints", None) or Endpoints.for_simulator(sim.base_url, org.dc)
    return ZohoClient.for_product(product, credentials(org), endpoints=endpoints, **kw)


def org_in(dc: str, index: int) -> OrgSpec:
    """A simulated org in data centre ``dc`` (the default orgs cover only us, eu, in)."""
    return replace(
        US,
        key=f"{dc}-test",
        name=f"Test org {dc}",
        dc=dc,
        zgid=f"7100000{index:02d}",
        client_id=f"1000.TESTCLIENT{dc.upper()}{index:020d}",
        client_secret=f"sim-secret-{dc}-test-not-real",
        refresh_token=f"1000.sim-refresh-{dc}-test.not-real",
        id_prefix=3000000 + index,
    )


def csv_rows(zip_path: Path) -> list[dict[str, str]]:
    with zipfile.ZipFile(zip_path) as zf:
        (name,) = zf.namelist()
        text = zf.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))
