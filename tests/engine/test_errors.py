"""The flows' error tree: messages built from attributes, and what the CLI reads from them."""

from __future__ import annotations

import pickle

from cli.main import ExitCode, exit_code_for
from engine.errors import BudgetExceededError, PageFailedError, RunFailedError


def budget_error(progress: str | None = None) -> BudgetExceededError:
    return BudgetExceededError(
        "700000001", 50, 13, 120, "bulk-read create crm Leads page 3", progress=progress
    )


def test_a_run_stopped_only_by_the_budget_exits_3_through_the_flow_boundary() -> None:
    stopped = budget_error().with_progress("loaded so far: 1600 rows of Leads in 2 page(s)")
    budget_only = RunFailedError("export crm", {"Leads": f"BudgetExceededError: {stopped}"})
    assert budget_only.budget_exhausted
    assert exit_code_for(budget_only) is ExitCode.BUDGET
    mixed = RunFailedError(
        "export crm",
        {"Leads": f"BudgetExceededError: {stopped}", "Deals": "PageFailedError: Deals page 1"},
    )
    assert not mixed.budget_exhausted
    assert exit_code_for(mixed) is ExitCode.RUN_FAILED
    assert exit_code_for(RunFailedError("export crm", {})) is ExitCode.RUN_FAILED


def test_the_budget_error_says_what_was_loaded_and_survives_pickling() -> None:
    stopped = budget_error().with_progress("loaded so far: 1600 rows of Leads in 2 page(s)")
    text = str(stopped)
    assert "\n" not in text
    assert "needs 50 credits, 13 of 120 left" in text
    assert "loaded so far: 1600 rows of Leads in 2 page(s)" in text
    copy = pickle.loads(pickle.dumps(stopped))  # noqa: S301 (our own bytes)
    assert (str(copy), copy.progress, copy.needed) == (text, stopped.progress, 50)


def test_a_failed_page_names_the_job_and_zohos_reason() -> None:
    error = PageFailedError("Deals", 1, "42", "INTERNAL_SERVER_ERROR: Internal server error")
    assert str(error) == (
        "Deals page 1: Zoho ended bulk job 42 in FAILURE (INTERNAL_SERVER_ERROR: Internal "
        "server error); re-run the same command to read this page with a new job"
    )
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # noqa: S301
