from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.errors import LedgerError
from engine.ledger import JobState, Ledger
from tests.engine.ledger.leads import complete_page_one, open_leads


def test_sqlite_uses_prefixed_tables(tmp_path: Path) -> None:
    ledger = Ledger(sa.create_engine(f"sqlite:///{tmp_path / 'l.db'}"))
    ledger.create_schema()
    assert ledger.table_name("jobs") == "zoho_etl_jobs"
    names = sa.inspect(ledger.engine).get_table_names()
    assert {"zoho_etl_jobs", "zoho_etl_extracts", "zoho_etl_watermarks"} <= set(names)
    ledger.engine.dispose()


@pytest.mark.postgres
def test_postgres_uses_the_zoho_etl_schema(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS zoho_etl CASCADE"))
    ledger = Ledger(engine)
    ledger.create_schema()
    assert ledger.table_name("jobs") == "zoho_etl.jobs"
    extract, _ = open_leads(ledger)
    job = ledger.plan_page(extract, 1)
    ledger.mark_created(job.job_key, "9", credits=50)
    assert ledger.get_job(job.job_key).state is JobState.CREATED
    engine.dispose()


def test_an_older_ledger_gets_the_new_columns(tmp_path: Path) -> None:
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'old.duckdb'}")
    Ledger(engine).create_schema()
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE zoho_etl.jobs DROP COLUMN job_seconds"))
    ledger = Ledger(engine)
    ledger.create_schema()
    extract, _ = open_leads(ledger)
    key = complete_page_one(ledger, extract, "1", job_seconds=3.0)
    assert ledger.get_job(key).job_seconds == 3.0
    engine.dispose()


def test_a_duckdb_ledger_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "ledger.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(LedgerError, match="open in another process") as caught:
            Ledger.from_url(f"duckdb:///{path}")
        assert "PostgreSQL" in str(caught.value)
    finally:
        holder.communicate("", timeout=30)
