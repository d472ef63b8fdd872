from __future__ import annotations

from pathlib import Path

import pytest

from flows.deployments import load_flow, read_specs, to_deployments
from flows.errors import UsageError

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def test_prefect_yaml_has_the_example_schedules() -> None:
    specs = {s.name: s for s in read_specs(PREFECT_YAML)}
    assert set(specs) == {"crm-incremental-hourly", "recruit-nightly", "crm-leads-write-back"}
    hourly = specs["crm-incremental-hourly"]
    assert hourly.cron == "5 * * * *"
    assert hourly.parameters["modules"] == ["Leads", "Contacts", "Deals"]
    assert not hourly.paused
    assert specs["recruit-nightly"].parameters["product"] == "recruit"
    assert specs["crm-leads-write-back"].paused


def test_every_deployment_builds_against_its_flow() -> None:
    deployments = to_deployments(read_specs(PREFECT_YAML))
    by_name = {d.name: d for d in deployments}
    assert by_name["crm-leads-write-back"].paused is True
    assert by_name["crm-incremental-hourly"].schedules[0].schedule.cron == "5 * * * *"


def test_entrypoints_outside_the_flows_package_are_refused() -> None:
    with pytest.raises(UsageError, match="not a flow in the flows package"):
        load_flow("os.py:system")
