"""Write-back sources and the dry run, as plain functions against the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.demo import DEMO_MAPPING, demo_rows
from connectors.bulk_write import BulkWriteClient
from engine.errors import SourceError
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import RunSettings, ZohoConnection
from engine.writeback.driver import write_table
from engine.writeback.run import run_write, saved_write
from engine.writeback.source import read_source
from simulator.testing import SimServer
from tests.conftest import fast_settings
from transforms.writeback import load_mapping
from transforms.writeback.errors import ResumeStateError
from transforms.writeback.row_order import content_order


@pytest.fixture
def outbox(rt: Runtime, tmp_path: Path) -> Path:
    """The demo rows as a Parquet file and as the warehouse table ``outbox``."""
    path = tmp_path / "rows.parquet"
    pq.write_table(demo_rows(), path)
    with rt.load_lock:
        rt.warehouse.connection.execute(  # type: ignore[attr-defined]
            "CREATE TABLE outbox AS SELECT * FROM read_parquet(?)", [str(path)]
        )
    return path


@pytest.mark.parametrize(
    ("source", "rows", "rejected"),
    [
        ("PARQUET", 20, 3),
        ("table:outbox", 20, 3),
        ("sql:SELECT * FROM outbox WHERE lead_no NOT IN ('L-005', 'L-011')", 18, 1),
    ],
)
def test_every_source_kind_validates_in_a_dry_run(
    rt: Runtime,
    connection: ZohoConnection,
    settings: RunSettings,
    outbox: Path,
    tmp_path: Path,
    source: str,
    rows: int,
    rejected: int,
) -> None:
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(DEMO_MAPPING, encoding="utf-8")
    given = str(outbox) if source == "PARQUET" else source
    summary = run_write(connection, settings, "crm", str(mapping), given, dry_run=True)
    assert summary.counts == {"rows": rows, "valid": rows - rejected, "rejected": rejected}
    assert summary.credits == 0
    assert summary.credits_needed == 500
    assert "MANDATORY_NOT_FOUND-Last_Name" in summary.issues or rows == 18


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.parquet", "no such file or directory"),
        ("table:drop table x", "letters, digits and underscores"),
        ("sql:SELECT * FROM no_such_table", "CatalogException"),
        ("sql:DROP TABLE outbox", "only a SELECT"),
        ("sql:", "only a SELECT"),
    ],
)
def test_unusable_sources_say_why(rt: Runtime, source: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read_source(rt, source)


def _rows(rt: Runtime, table: str) -> int:
    with rt.load_lock:
        found = rt.warehouse.connection.execute(  # type: ignore[attr-defined]
            f'SELECT count(*) FROM "{table}"'
        ).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1; DROP TABLE outbox; SELECT 2", "3 statements"),
        ("SELECT * FROM outbox; DELETE FROM outbox", "2 statements"),
        ("WITH d AS (DELETE FROM outbox RETURNING *) SELECT * FROM d", "read-only mode"),
        ("SELECT * FROM query('DROP TABLE outbox')", "single SELECT"),
        ("EXPLAIN SELECT 1", "not a EXPLAIN statement"),
        ("UPDATE outbox SET email = NULL", "not a UPDATE statement"),
    ],
)
def test_a_sql_source_is_one_read_only_select_on_duckdb(
    rt: Runtime, outbox: Path, sql: str, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        read_source(rt, f"sql:{sql}")
    assert _rows(rt, "outbox") == 20
    assert read_source(rt, "sql:WITH a AS (SELECT * FROM outbox) SELECT * FROM a").num_rows == 20


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1; DROP TABLE hx_outbox; SELECT 2", "3 statements"),
        ("WITH d AS (DELETE FROM hx_outbox RETURNING *) SELECT * FROM d", "read-only"),
        # DuckDB's parser cannot read FOR UPDATE: the server refuses the second command
        ("SELECT * FROM hx_outbox FOR UPDATE; DELETE FROM hx_outbox", "multiple commands"),
        ("SELECT * FROM hx_outbox FOR UPDATE", "read-only"),
        ("SELECT nextval('hx_seq')", "read-only"),
    ],
)
def test_a_sql_source_is_one_read_only_select_on_postgres(
    connection: ZohoConnection, tmp_path: Path, pg_url: str, sql: str, message: str
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS hx_outbox")
        conn.exec_driver_sql("CREATE TABLE hx_outbox AS SELECT generate_series(1, 7) AS n")
        conn.exec_driver_sql("CREATE SEQUENCE IF NOT EXISTS hx_seq")
        before = conn.exec_driver_sql("SELECT last_value FROM hx_seq").scalar()
    runtime = runtime_for(connection, fast_settings(tmp_path / "pg", warehouse_url=pg_url))
    try:
        with pytest.raises(SourceError, match=message):
            read_source(runtime, f"sql:{sql}")
        assert read_source(runtime, "sql:SELECT n FROM hx_outbox ORDER BY n").num_rows == 7
    finally:
        close_runtimes()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM hx_outbox").scalar() == 7
        assert conn.exec_driver_sql("SELECT last_value FROM hx_seq").scalar() == before
    engine.dispose()


def test_the_cli_refuses_a_sql_source_with_a_drop_and_runs_nothing(
    sim: SimServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with duckdb.connect(str(data / "warehouse.duckdb")) as db:
        db.execute("CREATE TABLE crm_Accounts AS SELECT range AS id FROM range(5)")
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(DEMO_MAPPING, encoding="utf-8")
    source = "sql:SELECT * FROM crm_Accounts; DROP TABLE crm_Accounts; SELECT 1 AS x"
    run = subprocess.run(
        [sys.executable, "-m", "cli", "write", source, "--mapping", str(mapping),
         "--dry-run", "--data-dir", str(data), "--simulator", sim.base_url],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")},
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "3 statements" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    with duckdb.connect(str(data / "warehouse.duckdb")) as db:
        assert db.execute("SELECT count(*) FROM crm_Accounts").fetchone() == (5,)


class LosesTheJobId:
    """The real client, but the process 'dies' right after create-job, before the id is saved."""

    def __init__(self, inner: BulkWriteClient) -> None:
        self.inner = inner
        self.job_id = ""

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        return self.inner.upload(zip_bytes, filename)

    def create_job(self, body: Mapping[str, Any]) -> str:
        self.job_id = self.inner.create_job(body)
        raise KeyboardInterrupt("killed after create-job, before its id was saved")

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        return self.inner.wait_for_job(job_id)

    def download_result(self, download_url: str) -> bytes:
        return self.inner.download_result(download_url)


def test_a_lost_job_id_is_attached_with_the_cli_option(
    rt: Runtime,
    connection: ZohoConnection,
    settings: RunSettings,
    outbox: Path,
    sim: SimServer,
    tmp_path: Path,
) -> None:
    mapping_path = tmp_path / "leads.yaml"
    mapping_path.write_text(DEMO_MAPPING, encoding="utf-8")
    mapping = load_mapping(mapping_path)
    rows = read_source(rt, "table:outbox")
    table = rows.take(pa.array(content_order(rows)))
    lost = LosesTheJobId(BulkWriteClient.for_client(rt.client("crm")))
    with pytest.raises(KeyboardInterrupt):
        write_table(table, mapping, rt.fields("crm", "Leads"), lost,
                    state=saved_write(rt, mapping, table))  # fmt: skip
    args = (connection, settings, "crm", str(mapping_path), "table:outbox", False)
    with pytest.raises(ResumeStateError, match="--attach-job 0=JOB_ID") as refused:
        run_write(*args)
    assert "job_ids=" not in str(refused.value).split("(Python")[0]
    summary = run_write(*args, attach_jobs={0: lost.job_id})
    assert summary.counts["added"] == 17
    assert sim.state.stats.snapshot()["jobs_created"]["us-enterprise/crm/Leads#write"] == 1


def test_a_real_write_runs_preflight_once_and_zips_each_chunk_once(
    connection: ZohoConnection,
    settings: RunSettings,
    outbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import engine.writeback.driver
    import transforms.writeback
    import transforms.writeback.csv_builder as csv_builder

    calls = {"preflight": 0, "zip": 0}
    real_preflight, real_zip = transforms.writeback.preflight, csv_builder.zip_csv

    def counted_preflight(*args: Any, **kwargs: Any) -> Any:
        calls["preflight"] += 1
        return real_preflight(*args, **kwargs)

    def counted_zip(*args: Any, **kwargs: Any) -> bytes:
        calls["zip"] += 1
        return real_zip(*args, **kwargs)

    monkeypatch.setattr(transforms.writeback, "preflight", counted_preflight)
    monkeypatch.setattr(engine.writeback.driver, "preflight", counted_preflight)
    monkeypatch.setattr(csv_builder, "zip_csv", counted_zip)
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(DEMO_MAPPING, encoding="utf-8")
    summary = run_write(connection, settings, "crm", str(mapping), "table:outbox", False)
    assert summary.counts["added"] == 17
    assert summary.jobs == 1
    assert calls == {"preflight": 1, "zip": 1}


def test_a_write_keeps_its_progress_in_the_ledger_and_refuses_an_old_manifest(
    rt: Runtime,
    connection: ZohoConnection,
    settings: RunSettings,
    outbox: Path,
    sim: SimServer,
    tmp_path: Path,
) -> None:
    mapping_path = tmp_path / "leads.yaml"
    mapping_path.write_text(DEMO_MAPPING, encoding="utf-8")
    mapping = load_mapping(mapping_path)
    rows = read_source(rt, "table:outbox")
    state = saved_write(rt, mapping, rows.take(pa.array(content_order(rows))))
    args = (connection, settings, "crm", str(mapping_path), "table:outbox", False)
    assert run_write(*args).counts["added"] == 17
    saved = state.chunks.load(state.key)
    assert [(run.state, run.counts.get("added_count")) for run in saved] == [("done", 17)]
    assert not (state.directory / "manifest.json").exists()
    state.chunks.forget(state.key)
    (state.directory / "manifest.json").write_text("{}", encoding="utf-8")
    spent = rt.budget.status().spent
    with pytest.raises(ResumeStateError, match=r"manifest\.json is from an earlier version"):
        run_write(*args)
    assert sim.state.stats.snapshot()["jobs_created"]["us-enterprise/crm/Leads#write"] == 1
    assert rt.budget.status().spent == spent


def _leads(rows: list[tuple[str, str, str]]) -> pa.Table:
    """Rows for ``mappings/leads.yaml``: (outbox_id, last_name, email)."""
    return pa.table(
        {
            "outbox_id": [r[0] for r in rows],
            "last_name": [r[1] for r in rows],
            "first_name": ["F"] * len(rows),
            "company": ["C"] * len(rows),
            "email": [r[2] for r in rows],
            "phone": pa.nulls(len(rows), pa.string()),
            "status": ["new"] * len(rows),
        }
    )


LEADS_MAPPING = Path(__file__).resolve().parents[3] / "mappings" / "leads.yaml"


def test_of_rows_repeating_the_find_by_value_the_first_in_the_input_is_kept(
    connection: ZohoConnection, settings: RunSettings, tmp_path: Path
) -> None:
    rows = [("r7", "A", "dup@example.org"), ("r8", "B", "dup@example.org")]
    rows += [(f"x{i}", f"Other {i}", f"x{i}@example.org") for i in range(6)]
    for name, given in (("forward", rows), ("backward", rows[::-1])):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(_leads(given), path)
        summary = run_write(
            connection, settings, "crm", str(LEADS_MAPPING), str(path), dry_run=True
        )
        (invalid,) = summary.invalid_rows
        later = "r8" if name == "forward" else "r7"
        assert invalid["key"] == later, (name, invalid)
        assert invalid["row"] == [k for k, _, _ in given].index(later)


def test_stop_on_invalid_names_the_first_invalid_input_row_and_its_key(
    connection: ZohoConnection, settings: RunSettings, tmp_path: Path
) -> None:
    from cli.exit_codes import one_line
    from transforms.writeback.errors import InvalidRowsError

    rows = [(f"x{i}", f"Other {i}", f"x{i}@example.org") for i in range(8)]
    rows[5] = ("r5", "Bad", "not-an-email")
    rows[7] = ("r7", "Bad too", "also not")
    path = tmp_path / "rows.parquet"
    pq.write_table(_leads(rows), path)
    with pytest.raises(InvalidRowsError) as raised:
        run_write(connection, settings, "crm", str(LEADS_MAPPING), str(path), False, "stop")
    line = one_line(raised.value)
    assert "(first: row 5 (r5) INVALID_DATA-Email" in line
    assert "nothing was sent" in line
    assert "resume" not in line
