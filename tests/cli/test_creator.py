"""``zoho-etl export --product creator`` and ``zoho-etl delete``: real subprocesses against the
simulator over loopback HTTP, exit codes scripts can trust."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from cli.creator import HIDDEN_EXPORT, creator_argv
from cli.main import ExitCode, app
from simulator.testing import SimServer
from tests.engine.creatorhelpers import APP, FORM, ORG, REPORT, TABLE, calls_today, sim_creator
from transforms.lake import LakeTable

runner = CliRunner()


def zoho_etl(
    *args: str, data: Path | None, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The CLI as a child process; ``data=None``: no ``--data-dir`` (the environment's)."""
    environ = {
        **os.environ,
        "ZOHO_ETL_POLL_INTERVAL": "0.05",
        "ZOHO_ETL_DOWNLOADS_PER_MINUTE": "1000",
        "ZOHO_CREATOR_OWNER": "",
        **env,
    }
    flags = [] if data is None else ["--data-dir", str(data)]
    return subprocess.run(
        [sys.executable, "-m", "cli", *args, *flags],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def _rows(data: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_export_product_creator_is_routed_to_the_creator_command() -> None:
    argv = ["export", "--product", "creator", "--app", "a", "--report", "r"]
    assert creator_argv(argv) == [HIDDEN_EXPORT, *argv[1:]]
    assert creator_argv(["export", "--product=creator"]) == [HIDDEN_EXPORT, "--product=creator"]
    assert creator_argv(["export", "Leads", "--product", "crm"]) == [
        "export",
        "Leads",
        "--product",
        "crm",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "pass --dry-run to count matching records, or --yes"),
        (["--dry-run", "--yes"], "pass --dry-run to count matching records, or --yes"),
        (["--yes", "--criteria", "  "], "--criteria is empty"),
        (["--yes", "--criteria", "ID != 0"], "matches every record; pass --all"),
        (["--yes", "--product", "crm"], "this command takes --product creator"),
    ],
)
def test_delete_refuses_bad_input_with_exit_2(extra: list[str], message: str) -> None:
    args = ["delete", "--app", APP, "--report", REPORT, "--simulator", "http://127.0.0.1:9"]
    if "--criteria" not in extra:
        args += ["--criteria", 'Status == "Closed"']
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_export_then_dry_run_then_delete(sim: SimServer, tmp_path: Path) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 1_500})
    base = creator.form_store(ORG, APP, FORM).values.base_id
    data = tmp_path / "data"
    common = ("--app", APP, "--report", REPORT, "--simulator", sim.base_url)
    exported = zoho_etl("export", "--product", "creator", *common, "--full", "--keep-landing",
                        data=data)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "creator" in exported.stdout
    (landing,) = (data / "parquet" / "creator" / TABLE).rglob("*.parquet")  # kept: one page
    assert landing.parent.parent.name.startswith("extracted_date=")
    assert _rows(data, f'select count(*), count(distinct id) from "{TABLE}"') == [(1_500, 1_500)]
    criteria = f"ID < {base + 250}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the data dir from ZOHO_ETL_DATA_DIR alone, run from another directory
    dry = zoho_etl("delete", "--product", "creator", *common, "--criteria", criteria,
                   "--dry-run", data=None, cwd=elsewhere, ZOHO_ETL_DATA_DIR=str(data))  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "dry run: 250 record(s) match; nothing deleted" in dry.stdout
    assert list((data / "retention").rglob("dry-run-*.ids"))
    assert list(elsewhere.iterdir()) == []
    assert len(creator.form_store(ORG, APP, FORM)) == 1_500
    done = zoho_etl("delete", "--product", "creator", *common, "--criteria", criteria, "--yes",
                    data=data)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "250 deleted in 2 delete call(s)" in done.stdout
    assert len(creator.form_store(ORG, APP, FORM)) == 1_250
    assert _rows(data, f'select count(*) from "{TABLE}" where _zoho_deleted_at is not null') == [
        (250,)
    ]
    # the report's lake table, queried as a module's is: by its table name or APP/REPORT
    sql = f"SELECT count(*) AS n, count(_zoho_deleted_at) AS deleted FROM {TABLE}"
    for name in (TABLE, f"{APP}/{REPORT}"):
        queried = zoho_etl("query", name, sql, "--product", "creator", "--json", data=data)
        assert queried.returncode == 0, queried.stderr
        assert json.loads(queried.stdout) == [{"n": 1_500, "deleted": 250}]
    unknown = zoho_etl("query", "Leads", sql, "--product", "creator", data=data)
    assert unknown.returncode == ExitCode.USAGE
    assert "name it creator_{app}_{report} or APP/REPORT" in unknown.stderr


def _lake_and_warehouse(data: Path) -> tuple[pa.Table, pa.Table]:
    from transforms import open_warehouse

    warehouse = open_warehouse(f"duckdb:///{data / 'warehouse.duckdb'}")
    try:
        stored = warehouse.read_table(TABLE).sort_by("id")
    finally:
        warehouse.close()
    lake = LakeTable.open(str(data / "lake"), "creator", TABLE).read().sort_by("id")
    return lake.select(stored.column_names), stored


def test_a_kill_between_pages_and_inside_a_lake_commit_resumes_exactly(
    sim: SimServer, tmp_path: Path
) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 210_000})  # pages: 200,000 + 10,000
    data = tmp_path / "data"
    common = ("--app", APP, "--report", REPORT, "--simulator", sim.base_url, "--full")
    where = f"{APP}/{REPORT}"
    table = LakeTable.open(str(data / "lake"), "creator", TABLE)
    # page 1 is in the lake; the ledger does not know it is loaded
    killed = zoho_etl("export", "--product", "creator", *common, data=data,
                      ZOHO_ETL_FAILPOINTS=f"lake-committed@{where}:1")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert table.version == 0
    # page 2's data is written, its commit is not
    killed = zoho_etl("export", "--product", "creator", *common, data=data,
                      ZOHO_ETL_FAILPOINTS=f"lake-write@{where}:2")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert table.version == 0
    done = zoho_etl("export", "--product", "creator", *common, data=data)
    assert done.returncode == 0, done.stderr
    assert len(creator.jobs) == 2  # the re-runs continued the same two bulk jobs
    lake, stored = _lake_and_warehouse(data)
    assert lake.num_rows == pc.count_distinct(lake["id"]).as_py() == 210_000
    assert lake.schema == stored.schema
    assert lake.equals(stored)
    assert [h["zoho_etl_operation"] for h in table.delta_table().history()] == ["append"] * 2
    assert list((data / "parquet").rglob("*.parquet")) == []  # landing removed once in the lake


def test_the_daily_call_cap_stops_the_run_with_exit_3_before_the_call_over_it(
    sim: SimServer, tmp_path: Path
) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 500})
    data = tmp_path / "data"
    common = ("--app", APP, "--report", REPORT, "--simulator", sim.base_url)
    before = calls_today(creator)
    capped = zoho_etl(
        "export", "--product", "creator", *common, "--full", data=data,
        ZOHO_CREATOR_DAILY_CALLS="5",
    )  # fmt: skip
    assert capped.returncode == ExitCode.BUDGET, capped.stderr
    assert "daily call cap of 5 is reached" in capped.stderr
    assert calls_today(creator) - before == 5  # the sixth call was never sent
    # the cap counts the account's calendar day across runs: a second run makes no call
    again = zoho_etl(
        "export", "--product", "creator", *common, "--full", data=data,
        ZOHO_CREATOR_DAILY_CALLS="5",
    )  # fmt: skip
    assert again.returncode == ExitCode.BUDGET
    assert calls_today(creator) - before == 5
