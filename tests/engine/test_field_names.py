"""A field whose API name cannot be a column is refused before the bulk job is created."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from cli.main import ExitCode, exit_code_for
from connectors.errors import FatalError, QueryValidationError
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.runtime import Runtime
from simulator.testing import SimServer

ORG = "us-enterprise"


def test_an_invalid_field_name_in_the_metadata_stops_the_export_before_any_job(
    sim: SimServer, rt: Runtime
) -> None:
    sim.state.add_field(ORG, "crm", "Leads", "Bad Name", "text")
    with pytest.raises(QueryValidationError) as info:
        export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
    message = str(info.value)
    assert "Leads: field 'Bad Name' is not a Zoho API name" in message
    assert "\n" not in message
    assert isinstance(info.value, FatalError)  # terminal: no layer retries it
    assert exit_code_for(info.value) is ExitCode.RUN_FAILED
    stats = sim.state.stats.snapshot()
    assert stats["total_jobs"] == 0
    spent = stats["credits_used"][ORG]
    assert spent == 1  # the field metadata call only (the probe spent ~52)
    assert rt.ledger.credits_spent_since(rt.org, datetime(2000, 1, 1)) == spent


def test_a_module_with_an_external_field_exports_without_it_and_says_so(
    sim: SimServer, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.bulk_query"):
        summary = export_module(rt, "crm", "Accounts", ExportOptions(mode="full"), DirectSteps(rt))
    store = sim.state.store(ORG, "crm", "Accounts")
    assert store is not None
    assert summary.rows_loaded == len(store)
    with rt.load_lock:
        columns = rt.warehouse.read_table("crm_Accounts").column_names
    assert "Account_Name" in columns
    assert "External_Account_Id" not in columns
    said = [r.getMessage() for r in caplog.records if "leaves out" in r.getMessage()]
    assert said
    assert "External_Account_Id (external field" in said[0]
    # the summary (the CLI table and the UI artifact read it) names the field and the reason
    assert list(summary.fields_left_out) == ["External_Account_Id"]
    assert summary.as_row()["fields left out"].startswith("External_Account_Id (external field")
