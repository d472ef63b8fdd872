"""The export engine when a job status names a download URL on a foreign host."""

from __future__ import annotations

from typing import Any

import pytest

from cli.main import ExitCode, exit_code_for
from connectors.errors import FatalError, ForeignHostError
from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.runtime import close_runtimes, runtime_for
from engine.settings import RunSettings
from engine.simulated import simulated_connection
from simulator.testing import SimServer
from tests.conftest import FAST_DOWNLOADS, FAST_JOBS
from tests.support.faultproxy import FaultProxy, ForeignHost, Rule


def test_an_export_refuses_a_foreign_download_url_and_sends_it_nothing(
    sim: SimServer, settings: RunSettings
) -> None:
    sim.state.configure(downloads_per_minute=FAST_DOWNLOADS, job_seconds=FAST_JOBS, per_page=800)
    with ForeignHost() as foreign, FaultProxy(sim.base_url) as proxy:

        def elsewhere(body: Any) -> Any:
            for job in body.get("data", []):
                result = job.get("result") or {}
                if result.get("download_url"):
                    result["download_url"] = foreign.base_url + "/crm/bulk/v8/read/1/result"
            return body

        proxy.add(
            Rule("GET", "*/crm/bulk/v8/read/*", "rewrite_json", times=10**6, rewrite=elsewhere)
        )
        rt = runtime_for(simulated_connection(proxy.base_url), settings)
        try:
            with pytest.raises(ForeignHostError) as info:
                export_module(rt, "crm", "Leads", ExportOptions(mode="full"), DirectSteps(rt))
        finally:
            close_runtimes()
    error = info.value
    assert foreign.seen == []  # no request, so no Authorization header, reached it
    assert f"{foreign.host}:{foreign.port}" in str(error)
    assert "\n" not in str(error)
    assert isinstance(error, FatalError)
    assert exit_code_for(error) is ExitCode.RUN_FAILED
    assert not list(settings.downloads_dir.rglob("*.zip"))
