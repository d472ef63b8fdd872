"""Fixtures shared by every test package.

- ``sim_server`` / ``sim``: the embedded Zoho simulator on loopback (one per session,
  reset before each test that asks for ``sim``).
- ``pg_url``: a SQLAlchemy URL of a PostgreSQL database. Skips cleanly where none is
  reachable, but fails when the ``CI`` environment variable is set: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from simulator.testing import SimServer

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


@pytest.fixture
def sim(sim_server: SimServer) -> SimServer:
    sim_server.reset()
    return sim_server


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("ZOHO_ETL_TEST_PG_URL", DEFAULT_PG_URL)
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach the server means "not available"
        message = f"PostgreSQL not reachable at {url.split('@')[-1]}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    return url
