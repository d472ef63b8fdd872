from __future__ import annotations

import pytest

from engine.summary import ModuleSummary
from flows.artifacts import Progress, artifact_key, publish_export_table


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("export", "crm"), "export-crm"),
        (("drift", "crm", "Leads"), "drift-crm-leads"),
        (("progress", "recruit", "Job_Openings"), "progress-recruit-job-openings"),
        (("write", "crm", "Custom__c"), "write-crm-custom-c"),
    ],
)
def test_keys_are_lowercase_digits_and_dashes(parts: tuple[str, ...], key: str) -> None:
    assert artifact_key(*parts) == key


def test_outside_a_run_artifacts_are_skipped() -> None:
    progress = Progress("crm", "Leads", "full export")
    progress.update(0.5, "page 1")  # no run, no API: must not raise
    publish_export_table("crm", [ModuleSummary("crm", "Leads", "full")])


def test_a_large_write_back_shows_its_parquet_and_first_failed_rows() -> None:
    import pyarrow as pa

    from engine.writeback.run import FIRST_FAILED, PER_ROW_LIMIT, row_results

    n = PER_ROW_LIMIT + 1
    statuses = ["ADDED" if i % 7 else "FAILED" for i in range(n)]
    table = pa.table(
        {
            "key": [f"K{i}" for i in range(n)],
            "status": statuses,
            "record_id": [None if s == "FAILED" else str(i) for i, s in enumerate(statuses)],
            "message": [None] * n,
            "errors": [
                [{"code": "INVALID_DATA", "fields": ["Email"]}] if s == "FAILED" else []
                for s in statuses
            ],
        }
    )
    rows = row_results(table)
    assert len(rows) == FIRST_FAILED
    assert {r["status"] for r in rows} == {"FAILED"}
    assert rows[0] == {
        "key": "K0",
        "status": "FAILED",
        "record id": None,
        "reason": "INVALID_DATA (Email)",
    }
    assert len(row_results(table.slice(0, PER_ROW_LIMIT))) == PER_ROW_LIMIT
