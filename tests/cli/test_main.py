"""``zoho-etl``: exit codes scripts can trust and one-line errors for bad input."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import ExitCode, app
from flows.run_logging import LIBRARY_LOGGERS
from simulator.testing import SimServer

runner = CliRunner()
NO_CREDENTIALS = {"ZOHO_CLIENT_ID": "", "ZOHO_CLIENT_SECRET": "", "ZOHO_REFRESH_TOKEN": ""}


@pytest.fixture(autouse=True)
def library_log_levels() -> Iterator[None]:
    """A flow run in this process sets the library loggers' levels; later tests expect none."""
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["export", "Laeds", "--simulator", "http://127.0.0.1:9"],
            ExitCode.USAGE,
            "unknown crm module 'Laeds'",
        ),
        (
            ["export", "leads", "--simulator", "http://127.0.0.1:9"],
            ExitCode.USAGE,
            "choose one of: Leads",
        ),
        (["export", "Leads", "--product", "books"], ExitCode.USAGE, "unknown product 'books'"),
        (["export", "Leads", "--runner", "spark"], ExitCode.USAGE, "choose threads or dask"),
        (
            ["backfill", "Deals", "--start", "2025-02-01", "--end", "2025-01-01"],
            ExitCode.USAGE,
            "bad date range 2025-02-01 .. 2025-01-01",
        ),
        (
            ["backfill", "Deals", "--start", "2025-13-01", "--end", "2026-01-01"],
            ExitCode.USAGE,
            "--start '2025-13-01' is not a date",
        ),
        (
            ["write", "rows.parquet", "--mapping", "missing.yaml"],
            ExitCode.USAGE,
            "--mapping missing.yaml: no such file",
        ),
        (["export", "Leads"], ExitCode.CREDENTIALS, "ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET"),
        (
            ["write", "x.parquet", "--mapping", "mappings/leads.yaml", "--attach-job", "one=2"],
            ExitCode.USAGE,
            "use CHUNK=JOB_ID",
        ),
        (
            ["write", "sql:SELECT 1; DROP TABLE t", "--mapping", "mappings/leads.yaml"],
            ExitCode.USAGE,
            "2 statements",
        ),
    ],
)
def test_bad_input_gives_one_line_and_its_exit_code(
    args: list[str], code: ExitCode, message: str
) -> None:
    exit_code, stderr = invoke(*args, env=NO_CREDENTIALS)
    assert exit_code == code
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr


def test_status_of_a_fresh_directory_says_nothing_yet(tmp_path: Path) -> None:
    fresh = tmp_path / "never-used"
    result = runner.invoke(app, ["status", "--data-dir", str(fresh)])
    assert result.exit_code == 0
    assert "nothing yet" in result.stdout
    assert not fresh.exists()
    as_json = runner.invoke(app, ["status", "--json", "--data-dir", str(fresh)])
    assert json.loads(as_json.stdout) == {"extracts": [], "jobs": [], "watermarks": []}


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("zoho-etl ")


def test_budget_too_small_exits_3_before_any_job(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    exit_code, stderr = invoke(
        "export",
        "Leads",
        "--full",
        "--simulator",
        sim.base_url,
        "--credit-budget",
        "20",
        "--data-dir",
        str(tmp_path),
    )
    assert exit_code == ExitCode.BUDGET
    assert "needs 57 credits" in stderr
    assert sim.state.stats.snapshot()["jobs_created"] == {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sim_serve_answers_until_interrupted() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "sim", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a generous wait, not a timing assert
        while True:
            try:
                orgs = httpx.get(f"http://127.0.0.1:{port}/_sim/orgs", timeout=1).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("zoho-etl sim serve did not start")
                time.sleep(0.2)
        assert "us-enterprise" in {o["key"] for o in orgs["orgs"]}
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}" in out
