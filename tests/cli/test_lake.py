"""``zoho-etl query`` and ``zoho-etl lake optimize|vacuum`` as real child processes, over a
lake an export through the engine (simulator over loopback) left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.lake import open_lake_table
from engine.runtime import Runtime
from simulator.testing import SimServer


def zoho_etl(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", *args, "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_ETL_")}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def lake_dir(sim: SimServer, rt: Runtime) -> Path:
    """A full export of Leads (two pages: table versions 0 and 1) into ``rt``'s data dir."""
    sim.state.configure(per_page=1500)
    export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    return rt.settings.data_path


def test_query_answers_one_select_as_json_and_as_a_table(lake_dir: Path, rt: Runtime) -> None:
    sql = "SELECT Lead_Status, count(*) AS n FROM Leads GROUP BY ALL ORDER BY Lead_Status"
    done = zoho_etl(lake_dir, "query", "Leads", sql, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    stored = open_lake_table(rt.settings, "crm", "Leads").read()
    expected = Counter(stored["Lead_Status"].to_pylist())
    assert {r["Lead_Status"]: r["n"] for r in rows} == dict(expected)
    assert sum(r["n"] for r in rows) == 2000

    plain = zoho_etl(lake_dir, "query", "Leads", "SELECT count(*) AS n FROM leads")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0] == "crm Leads: 1 row(s)"
    cells = [line.strip("│┃ ").split() for line in lines if line.startswith(("│", "┃"))]
    assert cells == [["n"], ["2000"]]


def test_the_data_dir_may_come_from_the_environment(lake_dir: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "cli", "query", "Leads", "SELECT count(*) AS n FROM Leads"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_ETL_")}
    env["ZOHO_ETL_DATA_DIR"] = str(lake_dir)
    done = subprocess.run(
        [*command, "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 2000}]


def test_query_time_travels_with_version(lake_dir: Path) -> None:
    done = zoho_etl(
        lake_dir, "query", "Leads", "SELECT count(*) AS n FROM Leads", "--version", "0", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 1500}]  # version 0: the first page only


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT count(*) FROM Leads; DROP TABLE Leads", "2 statements"),
        ("DELETE FROM Leads", "only a SELECT"),
        ("SELECT * FROM read_csv('/etc/hostname')", "disabled"),
    ],
)
def test_query_refuses_anything_but_one_read_only_select(
    lake_dir: Path, sql: str, says: str
) -> None:
    done = zoho_etl(lake_dir, "query", "Leads", sql)
    assert done.returncode == 2
    assert says in done.stderr
    assert done.stderr.count("\n") == 1  # one line
    assert open_lake_table_rows(lake_dir) == 2000


def open_lake_table_rows(data_dir: Path) -> int:
    from transforms.lake import LakeTable

    return LakeTable.open(str(data_dir / "lake"), "crm", "Leads").read().num_rows


def test_lake_optimize_and_vacuum(lake_dir: Path) -> None:
    from transforms.lake import LakeTable

    table = LakeTable.open(str(lake_dir / "lake"), "crm", "Leads")
    before = table.read().sort_by("id").to_pylist()
    done = zoho_etl(lake_dir, "lake", "optimize", "Leads")
    assert done.returncode == 0, done.stderr
    assert table.version == 2  # one more version, the same rows in fewer files
    assert len(table.delta_table().file_uris()) == 1
    assert table.read().sort_by("id").to_pylist() == before
    dry = zoho_etl(lake_dir, "lake", "vacuum", "Leads", "--retention-days", "0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    files = sorted((lake_dir / "lake" / "crm" / "Leads").glob("*.parquet"))
    assert len(files) == 3  # the two pages' files and the compacted one
    done = zoho_etl(lake_dir, "lake", "vacuum", "Leads", "--retention-days", "0")
    assert done.returncode == 0, done.stderr
    assert len(sorted((lake_dir / "lake" / "crm" / "Leads").glob("*.parquet"))) == 1
    assert table.read().sort_by("id").to_pylist() == before
    missing = zoho_etl(lake_dir, "lake", "vacuum", "Deals")
    assert missing.returncode == 2
    assert "no lake table" in missing.stderr


def test_bad_input_to_query_and_lake_exits_2_and_changes_nothing(lake_dir: Path) -> None:
    from transforms.lake import LakeTable

    table = LakeTable.open(str(lake_dir / "lake"), "crm", "Leads")
    version = table.version
    late = zoho_etl(lake_dir, "query", "Leads", "SELECT 1", "--version", "99")
    assert late.returncode == 2
    assert "--version 99 does not exist (versions 0 to 1)" in late.stderr
    for days in ("inf", "1e10"):
        huge = zoho_etl(lake_dir, "lake", "vacuum", "Leads", "--retention-days", days)
        assert huge.returncode == 2, huge.stderr
        assert "--retention-days" in huge.stderr
    # one of two tables missing: neither is touched
    partly = zoho_etl(lake_dir, "lake", "optimize", "Leads", "Contacts")
    assert partly.returncode == 2
    assert "crm Contacts has no lake table" in partly.stderr
    assert table.version == version


def test_landing_days_without_keep_landing_is_refused(tmp_path: Path) -> None:
    done = zoho_etl(tmp_path, "export", "Leads", "--landing-days", "3", "--simulator", "x")
    assert done.returncode == 2
    assert "--landing-days N needs --keep-landing" in done.stderr
