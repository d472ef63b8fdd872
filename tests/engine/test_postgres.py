"""The export engine on a PostgreSQL warehouse (ledger in the ``zoho_etl`` schema)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.runtime import close_runtimes, runtime_for
from engine.settings import ZohoConnection
from simulator.testing import SimServer
from tests.conftest import fast_settings

ORG = "us-enterprise"


@pytest.fixture
def pg_warehouse(pg_url: str) -> Iterator[str]:
    """A private schema for the module tables; the ledger schema starts empty."""
    schema = f"flows_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS zoho_etl CASCADE"))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    close_runtimes()
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text("DROP SCHEMA IF EXISTS zoho_etl CASCADE"))
    engine.dispose()


@pytest.mark.postgres
def test_full_then_incremental_export_into_postgres(
    sim: SimServer, connection: ZohoConnection, pg_warehouse: str, tmp_path: Path
) -> None:
    sim.state.configure(per_page=700)
    rt = runtime_for(connection, fast_settings(tmp_path / "data", warehouse_url=pg_warehouse))
    full = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert (full.pages, full.rows_loaded) == (3, 2000)
    store = sim.state.store(ORG, "crm", "Leads")
    ids = [str(i) for i in next(store.iter_chunks(["Modified_Time"]))["id"].to_pylist()]
    for record_id in ids[:12]:
        sim.state.update_record(ORG, "crm", "Leads", record_id, {"City": "Zürich (flows test)"})
    for record_id in ids[12:15]:
        sim.state.delete_record(ORG, "crm", "Leads", record_id)
    delta = export_module(rt, "crm", "Leads", ExportOptions(), DirectSteps(rt))
    assert (delta.kind, delta.method, delta.deleted) == ("incremental", "rest", 3)
    with rt.ledger.engine.connect() as conn:
        live = conn.execute(
            sa.text('SELECT count(*) FROM "crm_Leads" WHERE _zoho_deleted_at IS NULL')
        ).scalar_one()
        zurich = conn.execute(
            sa.text("""SELECT count(*) FROM "crm_Leads" WHERE "City" = 'Zürich (flows test)'""")
        ).scalar_one()
        jobs = conn.execute(sa.text("SELECT count(*) FROM zoho_etl.jobs")).scalar_one()
    assert live == len(store) == 1997
    assert zurich == 12
    assert jobs == 4  # three bulk pages + one REST delta
