"""The export and write-back engines when a POST's answer is lost (fault proxy on loopback).

The proxy forwards the POST to the simulator, which acts on it, then drops the connection.

- Bulk read create: Zoho documents no way to list bulk read jobs. With callbacks, the
  callback to the create's own address names the job Zoho made, and the engine adopts it
  (jobs = pages). Without, the lost job is an orphan: the engine sends the create once more,
  loads every row exactly once, and reports every credit the simulator charged (the
  orphan's 50 included).
- Upload: sent again (an orphan file id writes nothing); the rows are written once.
- Bulk write create: never sent again; the write stops with a terminal one-line error (the
  CLI's exit 1) and the simulator holds each row once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.main import ExitCode, exit_code_for
from connectors.errors import FatalError, OutcomeUnknownError
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import RunSettings
from engine.simulated import simulated_connection
from engine.summary import ModuleSummary
from engine.writeback.run import run_write
from simulator.testing import SimServer
from simulator.write_processing import wait_write_jobs
from tests.conftest import FAST_DOWNLOADS, FAST_JOBS, fast_settings
from tests.support.faultproxy import FaultProxy, Rule

ORG = "us-enterprise"


@pytest.fixture
def proxied_rt(sim: SimServer, settings: RunSettings) -> Iterator[tuple[Runtime, FaultProxy]]:
    sim.state.configure(downloads_per_minute=FAST_DOWNLOADS, job_seconds=FAST_JOBS, per_page=800)
    with FaultProxy(sim.base_url) as proxy:
        yield runtime_for(simulated_connection(proxy.base_url), settings), proxy
        close_runtimes()


def test_a_lost_create_answer_costs_one_orphan_job_counted_and_no_duplicate_row(
    sim: SimServer, proxied_rt: tuple[Runtime, FaultProxy]
) -> None:
    rt, proxy = proxied_rt
    rule = proxy.add(Rule("POST", "*/crm/bulk/v8/read", "drop_after"))
    summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    assert rule.fired == 1
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    with rt.load_lock:
        ids = [str(i) for i in rt.warehouse.read_table("crm_Leads")["id"].to_pylist()]
    assert len(ids) == len(set(ids)) == summary.rows_loaded == len(store) == 2000
    stats = sim.state.stats.snapshot()
    assert summary.pages == 3
    assert stats["jobs_created"][f"{ORG}/crm/Leads"] == summary.pages + 1  # one orphan
    spent = stats["credits_used"][ORG]
    assert rt.ledger.credits_spent_since(rt.org, datetime(2000, 1, 1)) == spent
    # credits reported = credits spent (the run's one field-metadata call is not the module's)
    assert summary.credits == spent - 1


def export_with_callbacks(
    sim: SimServer, tmp_path: Path, action: str, **settings: object
) -> tuple[int, ModuleSummary, Runtime]:
    """A full Leads export through the fault proxy with callbacks on; the first bulk read
    create meets ``action``. Returns how often the rule fired, the summary, the runtime."""
    sim.state.configure(downloads_per_minute=FAST_DOWNLOADS, job_seconds=FAST_JOBS, per_page=800)
    run_settings = fast_settings(tmp_path, callback_listen="127.0.0.1:0", **settings)
    with FaultProxy(sim.base_url) as proxy:
        rule = proxy.add(Rule("POST", "*/crm/bulk/v8/read", action))  # type: ignore[arg-type]
        rt = runtime_for(simulated_connection(proxy.base_url), run_settings)
        summary = export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    return rule.fired, summary, rt


@pytest.fixture
def runtimes_closed() -> Iterator[None]:
    yield
    close_runtimes()


def assert_leads_once_and_credits_counted(
    sim: SimServer, rt: Runtime, summary: ModuleSummary, *, unseen: int = 0
) -> int:
    """Rows exactly once, ledger credits = simulator credits + ``unseen`` (sends counted as
    spent that never reached it); returns the simulator's job count."""
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    ids = [str(i) for i in rt.warehouse.read_table("crm_Leads")["id"].to_pylist()]
    assert len(ids) == len(set(ids)) == summary.rows_loaded == len(store) == 2000
    stats = sim.state.stats.snapshot()
    spent = stats["credits_used"][ORG]
    assert rt.ledger.credits_spent_since(rt.org, datetime(2000, 1, 1)) == spent + unseen
    # the run's field-metadata call is not the module's
    assert summary.credits == spent + unseen - 1
    return int(stats["jobs_created"][f"{ORG}/crm/Leads"])


@pytest.mark.usefixtures("runtimes_closed")
def test_with_callbacks_a_lost_create_answer_adopts_the_job_zoho_made(
    sim: SimServer, tmp_path: Path
) -> None:
    fired, summary, rt = export_with_callbacks(sim, tmp_path, "drop_after")
    assert fired == 1
    assert summary.pages == 3
    assert assert_leads_once_and_credits_counted(sim, rt, summary) == summary.pages  # no orphan


@pytest.mark.usefixtures("runtimes_closed")
def test_with_callbacks_a_create_zoho_never_saw_is_sent_again_after_the_callback_wait(
    sim: SimServer, tmp_path: Path
) -> None:
    # no callback can come (the simulator never saw the create): the wait ends, one resend
    fired, summary, rt = export_with_callbacks(
        sim, tmp_path, "drop_before", callback_fallback_s=0.5
    )
    assert fired == 1
    # the create that never arrived is counted as spent: the conservative side (UNCERTAIN)
    jobs = assert_leads_once_and_credits_counted(sim, rt, summary, unseen=50)
    assert jobs == summary.pages == 3


MAPPING = """\
module: Leads
operation: insert
fields:
  - {source: last, api_name: Last_Name}
  - {source: company, api_name: Company}
"""


def write_inputs(tmp_path: Path, rows: int) -> tuple[str, str]:
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    source = tmp_path / "rows.parquet"
    table = pa.table(
        {"last": [f"Lost{i}" for i in range(rows)], "company": [f"Co {i}" for i in range(rows)]}
    )
    pq.write_table(table, source)
    return str(mapping), str(source)


def leads(sim: SimServer) -> int:
    store = sim.state.store(ORG, "crm", "Leads")
    assert store is not None
    return len(store)


def test_a_lost_upload_answer_is_resent_and_each_row_written_once(
    sim: SimServer, proxied_rt: tuple[Runtime, FaultProxy], settings: RunSettings, tmp_path: Path
) -> None:
    rt, proxy = proxied_rt
    rule = proxy.add(Rule("POST", "*/crm/v8/upload", "drop_after"))
    mapping, source = write_inputs(tmp_path, 25)
    before = leads(sim)
    summary = run_write(rt.connection, settings, "crm", mapping, source, dry_run=False)
    assert rule.fired == 1
    assert summary.counts["added"] == 25
    assert leads(sim) - before == 25  # records in the simulator = input rows
    stats = sim.state.stats.snapshot()
    assert stats["jobs_created"][f"{ORG}/crm/Leads#write"] == summary.jobs == 1
    assert rt.client("crm").meter.report().used == stats["credits_used"][ORG]


def test_a_lost_bulk_write_create_answer_stops_the_write_without_a_second_job(
    sim: SimServer, proxied_rt: tuple[Runtime, FaultProxy], settings: RunSettings, tmp_path: Path
) -> None:
    rt, proxy = proxied_rt
    rule = proxy.add(Rule("POST", "*/crm/bulk/v8/write", "drop_after"))
    mapping, source = write_inputs(tmp_path, 25)
    before = leads(sim)
    with pytest.raises(OutcomeUnknownError) as info:
        run_write(rt.connection, settings, "crm", mapping, source, dry_run=False)
    assert rule.fired == 1
    assert isinstance(info.value, FatalError)
    assert exit_code_for(info.value) is ExitCode.RUN_FAILED  # not "added 25", exit 0
    message = str(info.value)
    assert "\n" not in message
    assert "bulk write create for Leads (operation insert" in message
    wait_write_jobs(sim.state)
    stats = sim.state.stats.snapshot()
    assert stats["jobs_created"][f"{ORG}/crm/Leads#write"] == 1
    assert leads(sim) - before == 25  # not 50 records for 25 rows
    assert rt.client("crm").meter.report().used == stats["credits_used"][ORG]
