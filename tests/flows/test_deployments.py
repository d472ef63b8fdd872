from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.settings import ZohoConnection
from flows.blocks import ZohoCredentials
from flows.deployments import (
    apply_job_env,
    block_references,
    load_flow,
    read_specs,
    run_build_steps,
    to_deployments,
)

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def test_prefect_yaml_is_read_with_every_schedule_and_limit() -> None:
    specs = {s.name: s for s in read_specs(PREFECT_YAML)}
    assert set(specs) == {
        "crm-incremental-hourly",
        "recruit-nightly",
        "crm-leads-write-back",
        "creator-orders-nightly",
        "creator-orders-retention-weekly",
    }
    hourly = specs["crm-incremental-hourly"]
    assert [s.schedule.cron for s in hourly.schedules] == ["5 * * * *"]  # type: ignore[union-attr]
    assert hourly.parameters["modules"] == ["Leads", "Contacts", "Deals"]
    assert hourly.parameters["credentials"] == "{{ blocks.zoho_crm }}"
    assert not hourly.paused
    assert hourly.env == {"ZOHO_ETL_DATA_DIR": "data"}
    for spec in specs.values():
        assert spec.concurrency is not None
        assert spec.concurrency.limit == 1
        assert spec.concurrency.collision_strategy.value == "CANCEL_NEW"
    write_back = specs["crm-leads-write-back"]
    assert write_back.paused
    assert [s.active for s in write_back.schedules] == [False]
    assert write_back.schedule_text() == "0 6 * * 1-5 UTC (inactive)"


def test_every_schedule_of_a_deployment_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text(
        """
deployments:
  - name: twice
    entrypoint: flows/export.py:export_flow
    schedules:
      - cron: "0 6 * * *"
        timezone: Europe/Berlin
      - interval: 900
    concurrency_limit: 2
""",
        encoding="utf-8",
    )
    (spec,) = read_specs(path)
    (deployment,) = to_deployments([spec])
    kinds = [type(s.schedule).__name__ for s in deployment.schedules]
    assert kinds == ["CronSchedule", "IntervalSchedule"]
    assert deployment.schedules[0].schedule.timezone == "Europe/Berlin"
    assert deployment.schedules[1].schedule.interval.total_seconds() == 900
    assert deployment.concurrency_limit == 2


def test_every_deployment_builds_against_its_flow() -> None:
    by_name = {d.name: d for d in to_deployments(read_specs(PREFECT_YAML))}
    assert by_name["crm-leads-write-back"].paused is True
    hourly = by_name["crm-incremental-hourly"]
    assert hourly.schedules[0].schedule.cron == "5 * * * *"
    assert hourly.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    # the block-typed parameter renders as a block picker in the run form
    schema = hourly._parameter_openapi_schema.model_dump()
    credentials = schema["definitions"]["ZohoCredentials"]
    assert credentials["block_type_slug"] == "zoho-credentials"


def test_build_step_turns_block_slugs_into_id_references(
    prefect_api: str, connection: ZohoConnection
) -> None:
    block_id = ZohoCredentials.from_connection(connection).save("zoho-crm", overwrite=True)
    ZohoCredentials.from_connection(connection).save("zoho-recruit", overwrite=True)
    specs = {s.name: s for s in run_build_steps(PREFECT_YAML, read_specs(PREFECT_YAML))}
    reference = {"$ref": {"block_document_id": str(block_id)}}
    assert specs["crm-incremental-hourly"].parameters["credentials"] == reference
    assert specs["crm-incremental-hourly"].parameters["product"] == "crm"
    with pytest.raises(UsageError, match="no block 'zoho-credentials/nobody'"):
        block_references(nobody="zoho-credentials/nobody")


def test_job_variables_env_reaches_the_serving_process() -> None:
    environ = {"ZOHO_ETL_DATA_DIR": "elsewhere", "HOME": "/root"}
    apply_job_env(read_specs(PREFECT_YAML), environ)
    assert environ == {"ZOHO_ETL_DATA_DIR": "data", "HOME": "/root"}


def test_contradicting_job_env_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text(
        """
deployments:
  - name: a
    entrypoint: flows/export.py:export_flow
    work_pool: {job_variables: {env: {ZOHO_ETL_DATA_DIR: one}}}
  - name: b
    entrypoint: flows/export.py:export_flow
    work_pool: {job_variables: {env: {ZOHO_ETL_DATA_DIR: two}}}
""",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match=r"disagree on job variable env\.ZOHO_ETL_DATA_DIR"):
        apply_job_env(read_specs(path), {})


def test_a_schedule_prefect_deploy_would_refuse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text(
        "deployments:\n  - name: x\n    entrypoint: flows/export.py:export_flow\n"
        "    schedules:\n      - cron: '0 * * * *'\n        interval: 60\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match=r"prefect\.yaml: deployments\.0\.schedules"):
        read_specs(path)


def test_entrypoints_outside_the_flows_package_are_refused() -> None:
    with pytest.raises(UsageError, match="not a flow in the flows package"):
        load_flow("os.py:system")
