"""Fixtures shared by every test package.

- ``sim_server`` / ``sim``: the embedded Zoho simulator on loopback (one per session,
  reset before each test that asks for ``sim``).
- ``pg_url``: a SQLAlchemy URL of a PostgreSQL database. Skips cleanly where none is
  reachable, but fails when the ``CI`` environment variable is set: CI must run them.

Fixtures of the engine, flows and cli tests:

- ``ledger``: a fresh job ledger on a DuckDB file.
- ``settings`` / ``connection`` / ``rt``: a runtime against the simulator (``sim`` fixture)
  with fast polling, data under ``tmp_path``.
- ``prefect_api``: one Prefect test server for the whole session (started on first use;
  flow-level tests are few because every flow run costs about a second).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.main import _quiet_interpreter_teardown
from engine.ledger import Ledger
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import RunSettings, ZohoConnection
from engine.simulated import simulated_connection
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


# DuckDB's bindings report objects held by Prefect's worker threads as "leaked" at exit;
# silence the interpreter's final teardown (registered first, runs after pytest's report).
atexit.register(_quiet_interpreter_teardown)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# plain-function tests log through the same loggers outside any flow run
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'ledger.duckdb'}")
    ledger = Ledger(engine)
    ledger.create_schema()
    yield ledger
    engine.dispose()


#: Tests download many small pages quickly; Zoho's 10 a minute would make them wait.
FAST_DOWNLOADS = 1000
#: Simulated bulk jobs finish in tens of milliseconds (Zoho: seconds to minutes).
FAST_JOBS = (0.02, 0.05)


def fast_settings(data_dir: Path, **changes: object) -> RunSettings:
    values: dict[str, object] = {
        "data_dir": str(data_dir),
        "poll_interval_s": 0.05,
        "poll_max_interval_s": 0.2,
        "downloads_per_minute": FAST_DOWNLOADS,
    }
    values.update(changes)
    return RunSettings.model_validate(values)


@pytest.fixture
def settings(tmp_path: Path) -> RunSettings:
    return fast_settings(tmp_path / "data")


@pytest.fixture
def connection(sim: SimServer) -> ZohoConnection:
    sim.state.configure(downloads_per_minute=FAST_DOWNLOADS, job_seconds=FAST_JOBS)
    return simulated_connection(sim.base_url)


@pytest.fixture
def rt(connection: ZohoConnection, settings: RunSettings) -> Iterator[Runtime]:
    runtime = runtime_for(connection, settings)
    yield runtime
    close_runtimes()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    # a bound on the wait for the server, not a timing assert: under a load of 14 on two cores
    # its start took over 60 s
    with prefect_test_harness(server_startup_timeout=600):
        yield str(PREFECT_API_URL.value())
