"""``zoho-etl`` as a child process: each documented exit code from a real cause, in one line.

Every failure here happens after the command has started (inside the flow, against the
simulator on loopback), where a naive CLI would print Prefect's tracebacks and exit 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.exit_codes import ExitCode
from simulator.testing import SimServer
from tests.flows.cli_process import ledger_jobs, run_cli

ORG = "us-enterprise"


#: how the plain (not a terminal) progress lines of ``cli.progress`` start
PROGRESS_LINES = ("crm ", "exporting ", "backfilling ", "validating", "writing")


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without the progress lines: at most 3, no traceback, one ``zoho-etl:`` line."""
    lines = [
        line for line in result.stderr.strip().splitlines() if not line.startswith(PROGRESS_LINES)
    ]
    assert len(lines) <= 3, result.stderr[-3000:]
    assert sum(line.startswith("zoho-etl: ") for line in lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return lines


def test_a_rejected_refresh_token_exits_4(prefect_api: str, sim: SimServer, tmp_path: Path) -> None:
    sim.state.revoke_refresh_token(ORG)  # the token endpoint answers 200 {"error": ...}
    result = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "--full")
    assert result.returncode == ExitCode.CREDENTIALS, result.stderr[-3000:]
    lines = error_lines(result)
    assert "Leads" in lines[-1]


def test_a_zoho_job_failure_exits_1_naming_the_module_and_prints_the_summary(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    sim.state.add_fault("job_failure", path="/crm/Leads")
    result = run_cli(sim, prefect_api, tmp_path, "export", "Leads", "Contacts", "--full", "--json")
    assert result.returncode == ExitCode.RUN_FAILED, result.stderr[-3000:]
    lines = error_lines(result)
    assert "Leads" in lines[-1]
    assert "re-run" in lines[-1]
    summary = json.loads(result.stdout)
    assert summary["ok"] is False
    assert summary["exit_code"] == 1
    status = {row["module"]: row["status"] for row in summary["rows"]}
    assert status["Contacts"] == "ok"
    assert status["Leads"].startswith("FAILED: PageFailedError")


def test_a_budget_exhausted_mid_run_exits_3_in_one_line(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    sim.state.configure(per_page=800, downloads_per_minute=1000, job_seconds=(0.02, 0.05))
    result = run_cli(
        sim, prefect_api, tmp_path, "export", "Leads", "--full", "--credit-budget", "120", "--json"
    )
    assert result.returncode == ExitCode.BUDGET, result.stderr[-3000:]
    error_lines(result)
    loaded = [page for page, state, _, _ in ledger_jobs(tmp_path, "Leads") if state == "loaded"]
    assert loaded
    # the summary says what the stopped module loaded and paid, not zeros
    (row,) = json.loads(result.stdout)["rows"]
    assert row["status"].startswith("FAILED: BudgetExceededError")
    assert row["pages"] == len(loaded)
    assert row["rows loaded"] == 800 * len(loaded)
    assert row["credits"] >= 52 * len(loaded)


def write_rows(tmp_path: Path) -> Path:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"last": ["Ng"], "company": ["Acme"]}), path)
    return path


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("module: Leads\noperation: insert\nfields: [unclosed\n", "mapping"),
        (
            "module: Leads\noperation: insert\nfields:\n"
            "  - {api_name: Last_Name, source: last}\n"
            "  - {api_name: No_Such_Field, source: company}\n",
            "No_Such_Field",
        ),
    ],
    ids=["malformed-yaml", "unknown-field"],
)
def test_a_bad_mapping_exits_2(
    prefect_api: str, sim: SimServer, tmp_path: Path, mapping: str, message: str
) -> None:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(mapping, encoding="utf-8")
    rows = write_rows(tmp_path)
    result = run_cli(
        sim, prefect_api, tmp_path, "write", str(rows), "--mapping", str(mapping_file), "--dry-run"
    )
    assert result.returncode == ExitCode.USAGE, result.stderr[-3000:]
    assert message in error_lines(result)[-1]


def run_plain(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=child,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


CREDENTIALS = {
    "ZOHO_CLIENT_ID": "1000.fake",
    "ZOHO_CLIENT_SECRET": "fake-secret",
    "ZOHO_REFRESH_TOKEN": "1000.fake-refresh",
}


def test_an_unknown_data_centre_exits_2(tmp_path: Path) -> None:
    result = run_plain(tmp_path, "export", "Leads", env={**CREDENTIALS, "ZOHO_DC": "mars"})
    assert result.returncode == ExitCode.USAGE, result.stderr[-3000:]
    assert "'mars'" in error_lines(result)[-1]
    assert "fake-secret" not in result.stderr


@pytest.mark.parametrize("url", ["postgresql+nosuchdriver://user:hunter2@db/x", "not a url at all"])
def test_a_bad_warehouse_url_exits_2_without_its_password(tmp_path: Path, url: str) -> None:
    result = run_plain(
        tmp_path, "export", "Leads", env={**CREDENTIALS, "ZOHO_ETL_WAREHOUSE_URL": url}
    )
    assert result.returncode == ExitCode.USAGE, result.stderr[-3000:]
    assert "warehouse URL" in error_lines(result)[-1]
    assert "hunter2" not in result.stderr


def test_verbose_adds_the_traceback(tmp_path: Path) -> None:
    result = run_plain(tmp_path, "export", "Leads", "-v", env={**CREDENTIALS, "ZOHO_DC": "mars"})
    assert result.returncode == ExitCode.USAGE
    assert "Traceback" in result.stderr


def test_an_unreachable_postgresql_is_a_warehouse_failure_not_an_internal_error() -> None:
    psycopg = pytest.importorskip("psycopg")
    from cli.exit_codes import exit_code_for, one_line

    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect("host=127.0.0.1 port=1 user=u password=hunter2 dbname=x", connect_timeout=5)
    assert exit_code_for(raised.value) == ExitCode.RUN_FAILED
    line = one_line(raised.value)
    assert "internal error" not in line
    assert "check the warehouse" in line
    assert "hunter2" not in line
