"""Smoke test of ``python -m bench`` at a tiny size, so the benchmark cannot rot.

Runs the real thing (simulator process, one worker process per variant) on 1,500 records in
pages of 500 with Zoho's job times scaled down 500x; checks the accounting, not the speed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench.e2e import main, run
from bench.e2e_config import E2EConfig
from bench.e2e_report import format_report
from bench.e2e_targets import credit_minimum

RECORDS, PER_PAGE, PAGES = 1_500, 500, 3
TINY = {"records": RECORDS, "per_page": PER_PAGE, "time_scale": 0.002, "seed": 7}


def _check_ours(variant: dict[str, Any], leg: dict[str, Any]) -> None:
    assert variant["rows"] == RECORDS
    assert variant["jobs_created"] == PAGES
    polls = leg["sim"]["polls_per_job"]
    assert len(polls) == PAGES
    assert all(p >= 1 for p in polls)
    # every credit the simulator charged is accounted for: jobs, polls, downloads, metadata
    assert variant["credits_used"] == PAGES * 50 + sum(polls) + PAGES + 1
    assert variant["credits_used"] > credit_minimum(RECORDS, PER_PAGE).total
    assert variant["client_work_seconds"] + variant["zoho_seconds"] == pytest.approx(
        variant["wall_seconds"], abs=0.01
    )
    assert sum(variant["stage_seconds"].values()) == pytest.approx(
        variant["wall_seconds"], rel=0.05, abs=0.05
    )
    assert 0 < variant["peak_rss_mb"] < 2048
    assert leg["sim"]["zoho_seconds_source"].startswith("simulator")


@pytest.mark.slow
def test_tiny_benchmark_on_duckdb_runs_every_leg_and_accounts_for_every_credit(
    tmp_path: Path,
) -> None:
    document = run(E2EConfig(**TINY, pg_url=None, skip=("naive-duckdb",), workdir=tmp_path))

    variants = document["variants"]
    assert set(variants) == {"ours_duckdb", "floor"}
    _check_ours(variants["ours_duckdb"], document["legs"]["ours_duckdb"])
    floor = variants["floor"]
    assert floor["rows"] == RECORDS
    assert floor["credits_used"] == PAGES  # one download each, no jobs
    assert floor["jobs_created"] == 0
    verdicts = {t["name"]: t["verdict"] for t in document["targets"]}
    assert verdicts["naive_vs_ours_postgres"] == "SKIP"
    assert verdicts["credits_duckdb"] in {"PASS", "FAIL"}
    assert document["config"]["postgres"] == "no --pg-url"
    report = format_report(document)
    assert "ours_vs_floor_duckdb" in report
    assert "floor" in report


@pytest.mark.slow
@pytest.mark.postgres
def test_tiny_benchmark_with_postgres_and_windows_writes_json_and_drops_its_scratch_database(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    database = f"zoho_bench_e2e_smoke_{os.getpid()}"
    out = tmp_path / "e2e.json"
    code = main(
        [
            "--records", str(RECORDS), "--per-page", str(PER_PAGE), "--time-scale", "0.002",
            "--pg-url", pg_url, "--pg-database", database, "--skip", "naive-duckdb",
            "--windows-time-scale", "0.002", "--creator-records", "3000",
            "--workdir", str(tmp_path / "work"), "--out", str(out),
        ]
    )  # fmt: skip

    assert code in (0, 1)  # 1 = a target failed, which tiny sizes may well do
    document = json.loads(out.read_text())
    assert document["machine"]["cpu_count"] >= 1
    variants = document["variants"]
    assert set(variants) == {"ours_duckdb", "floor", "naive_postgres", "ours_postgres"}
    _check_ours(variants["ours_postgres"], document["legs"]["ours_postgres"])
    assert variants["naive_postgres"]["rows"] == RECORDS
    verdicts = {t["name"]: t["verdict"] for t in document["targets"]}
    assert verdicts["naive_vs_ours_postgres"] in {"PASS", "FAIL"}
    windows = document["windows"]  # serial pages against parallel windows, same run
    assert windows["serial"]["table_rows"] == RECORDS
    assert windows["parallel"]["table_rows"] == windows["parallel"]["distinct_ids"] == RECORDS
    # 1,500 records cost less by REST than by one bulk job: the second export reads by REST
    # (tests/bench/test_windows.py runs the windows at a size that takes bulk)
    assert windows["parallel"]["bulk_jobs"] == 0
    assert "REST" in windows["parallel"]["reason"]
    assert verdicts["windows_every_record_once"] == "PASS"
    assert verdicts["credits_windows"] in {"PASS", "FAIL"}
    assert document["ratios"]["windows_serial_over_parallel_wall"] > 0
    creator = document["creator"]  # the Creator report leg, same run
    assert creator["each_record_once"] is True
    assert creator["ours"]["rows"] == 3000
    assert verdicts["creator_each_record_once"] == "PASS"
    assert document["ratios"]["creator_ours_over_floor_wall"] > 0
    assert len(document["machine"]["load_average"]) == 3
    printed = capsys.readouterr().out
    assert "naive_vs_ours_postgres" in printed
    assert "parallel: wall" in printed
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            left = conn.execute(
                sa.text("select count(*) from pg_database where datname = :d"), {"d": database}
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0


@pytest.mark.slow
def test_tiny_benchmark_with_callbacks_spends_one_status_call_per_job(tmp_path: Path) -> None:
    config = E2EConfig(
        **TINY, pg_url=None, skip=("naive-duckdb",), workdir=tmp_path, callbacks=True
    )
    document = run(config)
    leg = document["legs"]["ours_duckdb"]
    _check_ours(document["variants"]["ours_duckdb"], leg)
    assert leg["sim"]["polls_per_job"] == [1] * PAGES
    assert document["variants"]["ours_duckdb"]["credits_used"] == (
        credit_minimum(RECORDS, PER_PAGE).total + 1  # + the field metadata
    )
