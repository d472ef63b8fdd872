"""Fixtures of the flow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.settings import RunSettings, ZohoConnection
from flows.connection import run_overrides


@pytest.fixture
def simulated_org(settings: RunSettings, connection: ZohoConnection) -> Iterator[None]:
    """Flows called in these tests use the simulator and the fast test settings."""
    with run_overrides(settings=settings, connection=connection):
        yield
