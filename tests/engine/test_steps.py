"""The engine yields its steps; whoever drives it runs them (the engine never calls a task)."""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import Any

import pytest

from engine.extracts import ExportOptions, export_module_steps
from engine.runtime import Runtime
from engine.steps import BulkPageStep, DeletedStep, RestDeltaStep, Step, drive, run_step
from simulator.testing import SimServer

ORG = "us-enterprise"


def test_outcomes_are_sent_back_and_errors_thrown_in_where_the_step_was_asked() -> None:
    def driver() -> Generator[str, Any, list[Any]]:
        seen: list[Any] = [(yield "first")]
        try:
            yield "fails"
        except KeyError as exc:
            seen.append(f"caught {exc.args[0]}")
        seen.append((yield "last"))
        return seen

    def run(step: str) -> str:
        if step == "fails":
            raise KeyError("lost")
        return step.upper()

    assert drive(driver(), run) == ["FIRST", "caught lost", "LAST"]  # type: ignore[arg-type]


def test_an_error_the_driver_does_not_handle_comes_out_of_drive() -> None:
    def driver() -> Generator[str, Any, None]:
        yield "fails"

    def run(step: str) -> str:
        raise ValueError(step)

    with pytest.raises(ValueError, match="fails"):
        drive(driver(), run)  # type: ignore[arg-type]


def test_an_export_yields_one_named_step_per_page(sim: SimServer, rt: Runtime) -> None:
    sim.state.configure(per_page=800)
    ran: list[Step] = []

    def run(step: Step) -> Any:
        ran.append(step)
        return run_step(rt, step)

    full = drive(export_module_steps(rt, "crm", "Leads", ExportOptions(mode="full")), run)
    assert [s.name for s in ran] == [f"bulk-read Leads page {n}" for n in (1, 2, 3)]
    assert all(isinstance(s, BulkPageStep) and not s.allow_split for s in ran)
    assert full.pages == 3
    ran.clear()
    sim.state.insert_record(ORG, "crm", "Leads", {"Last_Name": "Neu"})
    delta = drive(export_module_steps(rt, "crm", "Leads", ExportOptions()), run)
    assert [type(s) for s in ran] == [RestDeltaStep, DeletedStep]
    assert ran[1].name == "deleted-records Leads"
    assert (delta.method, delta.rows_loaded) == ("rest", delta.rows_read)


def test_run_step_is_what_the_direct_runner_does(sim: SimServer, rt: Runtime) -> None:
    from engine.extracts import DirectSteps, export_module

    sim.state.configure(per_page=800)
    via_steps = drive(
        export_module_steps(rt, "crm", "Contacts", ExportOptions(mode="full")),
        partial(run_step, rt),
    )
    again = export_module(rt, "crm", "Contacts", ExportOptions(mode="full"), DirectSteps(rt))
    assert (
        via_steps.rows_loaded == again.rows_loaded == len(sim.state.store(ORG, "crm", "Contacts"))
    )  # type: ignore[arg-type]
