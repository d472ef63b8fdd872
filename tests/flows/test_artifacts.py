from __future__ import annotations

import pytest

from flows.artifacts import Progress, artifact_key, publish_export_table
from flows.reporting import ModuleSummary


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
