"""Every variable of the README's settings table, honoured by ``zoho-etl`` run as a process.

``zoho-etl settings`` prints the settings the run commands build (``cli.options.RunOptions``:
flag > environment > default); one export checks the same end to end for the data dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulator.testing import SimServer

CREDENTIALS = {
    "ZOHO_CLIENT_ID": "1000.fake",
    "ZOHO_CLIENT_SECRET": "fake-secret",
    "ZOHO_REFRESH_TOKEN": "1000.fake-refresh",
}
ALL_VARIABLES = (
    *CREDENTIALS,
    "ZOHO_DC",
    "ZOHO_ORG_ID",
    "ZOHO_SIMULATOR_URL",
    "ZOHO_ETL_DATA_DIR",
    "ZOHO_ETL_WAREHOUSE_URL",
    "ZOHO_ETL_CREDIT_BUDGET",
    "ZOHO_ETL_CONCURRENCY",
    "ZOHO_ETL_POLL_INTERVAL",
    "ZOHO_ETL_DOWNLOADS_PER_MINUTE",
    "ZOHO_ETL_CALLBACK_LISTEN",
    "ZOHO_ETL_CALLBACK_URL",
    "ZOHO_ETL_ACTIVE_BULK_JOBS",
    "ZOHO_ETL_LAKE_URI",
    "ZOHO_ETL_LAKE_STORAGE_OPTIONS",
    "ZOHO_ETL_KEEP_LANDING_DAYS",
    "ZOHO_ETL_LAKE_DELETION_VECTORS",
    "ZOHO_ETL_DRIFT_POLICY",
    "ZOHO_CREATOR_OWNER",
    "ZOHO_CREATOR_PLAN",
    "ZOHO_CREATOR_USERS",
    "ZOHO_CREATOR_TIME_ZONE",
    "ZOHO_CREATOR_DAILY_CALLS",
)


def zoho_etl(
    cwd: Path, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if k not in ALL_VARIABLES}
    child.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=child,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def settings_of(cwd: Path, *flags: str, env: dict[str, str]) -> dict[str, Any]:
    result = zoho_etl(cwd, "settings", *flags, env={**CREDENTIALS, **env})
    assert result.returncode == 0, result.stderr
    assert "fake-secret" not in result.stdout
    assert "fake-refresh" not in result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    return document


#: (variable, value, section of `settings`, key, what it shows: None for the value itself)
VARIABLES: list[tuple[str, str, str, str, object]] = [
    ("ZOHO_CLIENT_ID", "1000.other", "connection", "client_id", "1000.other"),
    ("ZOHO_DC", "eu", "connection", "data_center", "eu"),
    ("ZOHO_ORG_ID", "777", "connection", "org_id", "777"),
    ("ZOHO_SIMULATOR_URL", "http://127.0.0.1:9", "connection", "simulator_url", None),
    ("ZOHO_ETL_DATA_DIR", "/tmp/elsewhere", "settings", "data_dir", "/tmp/elsewhere"),
    ("ZOHO_ETL_CREDIT_BUDGET", "900", "settings", "credit_budget", 900),
    ("ZOHO_ETL_CONCURRENCY", "7", "settings", "concurrency", 7),
    ("ZOHO_ETL_POLL_INTERVAL", "2", "settings", "poll_interval_s", 2.0),
    ("ZOHO_ETL_DOWNLOADS_PER_MINUTE", "33", "settings", "downloads_per_minute", 33),
    ("ZOHO_ETL_CALLBACK_LISTEN", "127.0.0.1:9", "settings", "callback_listen", None),
    ("ZOHO_ETL_CALLBACK_URL", "https://cb.example", "settings", "callback_url", None),
    ("ZOHO_ETL_ACTIVE_BULK_JOBS", "9", "settings", "active_bulk_jobs", 9),
    ("ZOHO_ETL_LAKE_URI", "/tmp/lake-elsewhere", "settings", "lake_uri", None),
    ("ZOHO_ETL_KEEP_LANDING_DAYS", "3", "settings", "keep_landing_days", 3.0),
    ("ZOHO_ETL_LAKE_DELETION_VECTORS", "true", "settings", "lake_deletion_vectors", True),
    ("ZOHO_ETL_DRIFT_POLICY", "freeze", "settings", "drift_policy", "freeze"),
    ("ZOHO_CREATOR_OWNER", "jason18", "creator", "owner", None),
    ("ZOHO_CREATOR_PLAN", "free", "creator", "plan", None),
    ("ZOHO_CREATOR_USERS", "4", "creator", "users", 4),
    ("ZOHO_CREATOR_TIME_ZONE", "Asia/Kolkata", "creator", "time_zone", None),
    ("ZOHO_CREATOR_DAILY_CALLS", "25", "creator", "daily_calls", 25),
    # a secret: shown masked, never its value
    (
        "ZOHO_ETL_LAKE_STORAGE_OPTIONS",
        '{"k": "s3cr3t"}',
        "settings",
        "lake_storage_options",
        "**********",
    ),
]


def test_every_variable_is_honoured(tmp_path: Path) -> None:
    """All set at once: one process for the defaults, one with every variable."""
    default = settings_of(tmp_path, env={})
    document = settings_of(tmp_path, env={v[0]: v[1] for v in VARIABLES})
    assert "s3cr3t" not in json.dumps(document)
    wrong = []
    for variable, value, where, key, expected in VARIABLES:
        shown, before = document[where][key], default[where][key]
        if shown != (value if expected is None else expected) or shown == before:
            wrong.append((variable, shown, before))  # not the variable's, or still the default
    assert wrong == []
    assert {v[0] for v in VARIABLES} >= set(ALL_VARIABLES) - {
        "ZOHO_CLIENT_SECRET",
        "ZOHO_REFRESH_TOKEN",
        "ZOHO_ETL_WAREHOUSE_URL",
    }


def test_the_creator_plan_and_users_set_the_daily_calls(tmp_path: Path) -> None:
    default = settings_of(tmp_path, env={})["creator"]["calls_per_day"]
    env = {"ZOHO_CREATOR_PLAN": "free", "ZOHO_CREATOR_USERS": "3"}
    assert settings_of(tmp_path, env=env)["creator"]["calls_per_day"] != default
    capped = {**env, "ZOHO_CREATOR_DAILY_CALLS": "7"}
    assert settings_of(tmp_path, env=capped)["creator"]["calls_per_day"] == 7


def test_a_bad_creator_variable_exits_2_naming_it(tmp_path: Path) -> None:
    result = zoho_etl(tmp_path, "settings", env={**CREDENTIALS, "ZOHO_CREATOR_PLAN": "gold"})
    assert result.returncode == 2
    assert "ZOHO_CREATOR_PLAN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_secret_variables_are_required_and_never_shown(tmp_path: Path) -> None:
    for variable in ("ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"):
        result = zoho_etl(tmp_path, "settings", env={**CREDENTIALS, variable: ""})
        assert json.loads(result.stdout)["connection"] == {"missing": [variable]}


def test_the_warehouse_url_variable_is_honoured(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert settings_of(tmp_path, env={})["warehouse"] == "duckdb"
    result = zoho_etl(tmp_path, "status", env={"ZOHO_ETL_WAREHOUSE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "w.duckdb").exists()  # status opened the ledger there


def test_a_flag_beats_the_variable_and_the_variable_beats_the_default(tmp_path: Path) -> None:
    env = {"ZOHO_ETL_CONCURRENCY": "7", "ZOHO_ETL_DATA_DIR": "/tmp/from-env"}
    from_env = settings_of(tmp_path, env=env)["settings"]
    assert (from_env["concurrency"], from_env["data_dir"]) == (7, "/tmp/from-env")
    flagged = settings_of(tmp_path, "--concurrency", "2", "--data-dir", "/tmp/x", env=env)
    assert (flagged["settings"]["concurrency"], flagged["settings"]["data_dir"]) == (2, "/tmp/x")
    defaults = settings_of(tmp_path, env={})["settings"]
    assert (defaults["concurrency"], defaults["data_dir"]) == (4, "data")


def test_export_writes_under_the_data_dir_variable(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    target = tmp_path / "from-env"
    env = {
        "ZOHO_ETL_DATA_DIR": str(target),
        "PREFECT_API_URL": prefect_api,
        "ZOHO_ETL_POLL_INTERVAL": "0.05",
        "ZOHO_ETL_DOWNLOADS_PER_MINUTE": "1000",
    }
    result = zoho_etl(
        tmp_path, "export", "Leads", "--full", "--simulator", sim.base_url, "--json", env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (target / "warehouse.duckdb").exists()
    assert not (tmp_path / "data").exists()
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["rows"][0]["module"] == "Leads"
    assert summary["rows"][0]["rows loaded"] > 0


def test_a_malformed_etl_variable_exits_2_naming_it(tmp_path: Path) -> None:
    result = zoho_etl(tmp_path, "settings", env={**CREDENTIALS, "ZOHO_ETL_CONCURRENCY": "0"})
    assert result.returncode == 2, result.stderr
    assert "ZOHO_ETL_CONCURRENCY=0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
