"""A field whose API name cannot be a column is refused before the bulk job is created."""

from __future__ import annotations

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
