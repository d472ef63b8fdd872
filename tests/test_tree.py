"""Tests mirror the source tree: ``engine/pages.py`` is tested in ``tests/engine/test_pages.py``.

Every module of the layers has its test file at the same path under ``tests/``, or is listed in
``TESTED_THROUGH`` with the test file that drives it and why it has none of its own (mostly a
part split off a module whose tests exercise the whole). Test files that test no one module
(crashes, scenarios across layers, dialect contracts) are not checked here. The simulator is
not checked either: its routes' tests (``tests/simulator/test_routes_*.py``) drive its models.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("recovery", "connectors", "transforms", "engine", "flows", "cli")

#: module -> (the test file that drives it, or None; why it has no test file of its own)
TESTED_THROUGH: dict[str, tuple[str | None, str]] = {
    # cli: the commands are tested as a user runs them, through the CLI
    "cli/demo.py": (None, "not under pytest: `make demo` runs it over the simulator"),
    "cli/demo_creator.py": (None, "a part of the demo (`make demo`)"),
    "cli/demo_writeback.py": (None, "a part of the demo (`make demo`)"),
    "cli/prefect_server.py": (
        "tests/engine/writeback/test_crash_resume.py",
        "a killed CLI leaves no Prefect server behind (a real kill -9)",
    ),
    "cli/reporting.py": ("tests/cli/test_main.py", "the tables `status` and each command print"),
    "cli/running.py": ("tests/cli/test_exit_codes.py", "one-line errors and exit codes of runs"),
    "cli/write.py": ("tests/cli/test_write_dry_run.py", "the `write` command, as a user runs it"),
    "cli/write_input.py": ("tests/cli/test_main.py", "the `write` command's bad input, exit 2"),
    # flows: a flow test runs several flows against one Prefect test server
    "flows/backfill.py": (
        "tests/flows/test_writeback.py",
        "one test runs a backfill, then a write",
    ),
    "flows/cancellation.py": ("tests/cli/test_interrupt.py", "Ctrl-C ends the flow run Cancelled"),
    "flows/connection.py": (
        "tests/flows/test_blocks.py",
        "resolution from blocks; run_overrides in every flow test",
    ),
    # engine: parts split off a driver, tested through it
    "engine/cancel.py": ("tests/engine/test_progress.py", "a cancel is honoured at a page's end"),
    "engine/creator_load.py": ("tests/engine/test_creator_export.py", "split off creator_export"),
    "engine/ledger/schema.py": ("tests/engine/ledger/test_jobs.py", "the job state machine"),
    "engine/modules.py": ("tests/cli/test_main.py", "unknown modules and products, exit 2"),
    "transforms/lake/reading.py": (
        "tests/transforms/lake/test_local_merge.py",
        "tables with and without deletion vectors read back and queried by DuckDB",
    ),
    "engine/page_load.py": ("tests/engine/test_extracts.py", "split off pages; every page loads"),
    "engine/page_estimate.py": ("tests/cli/test_interrupt.py", "a resumed run shows pages 0/3"),
    "engine/pages.py": ("tests/engine/test_extracts.py", "every bulk export walks its pages"),
    "engine/retention_audit.py": ("tests/engine/test_retention.py", "the audit of each delete"),
    "engine/simulated.py": ("tests/conftest.py", "every simulator-backed test connects through it"),
    "engine/summary.py": ("tests/flows/test_artifacts.py", "typed results, shown as artifacts"),
    "engine/writeback/parent_child_batches.py": (
        "tests/engine/writeback/test_parent_child.py",
        "split off parent_child",
    ),
    "engine/writeback/parent_child_preflight.py": (
        "tests/engine/writeback/test_parent_child.py",
        "split off parent_child",
    ),
    "engine/writeback/send.py": ("tests/engine/writeback/test_driver.py", "split off driver"),
    "engine/writeback/source.py": ("tests/engine/writeback/test_run.py", "a write's sources"),
    "engine/writeback/state.py": ("tests/engine/writeback/test_driver.py", "resume of a write"),
    "engine/writeback/summary.py": ("tests/engine/writeback/test_run.py", "a write's summary"),
    # transforms and connectors: errors, models and parts split off the module tested
    "transforms/errors.py": ("tests/recovery/test_errors.py", "each error under its marker"),
    "transforms/lake/page.py": ("tests/transforms/lake/test_table.py", "split off table"),
    "transforms/writeback/cell_checks.py": (
        "tests/transforms/writeback/test_validate.py",
        "split off validate",
    ),
    "transforms/writeback/dates.py": (
        "tests/transforms/writeback/test_mapping.py",
        "date formats of a mapping",
    ),
    "transforms/writeback/errors.py": ("tests/recovery/test_errors.py", "each under its marker"),
    "transforms/writeback/invalid_rows.py": (
        "tests/cli/test_write_dry_run.py",
        "a dry run's invalid cells, read back",
    ),
    "transforms/writeback/mapping_model.py": (
        "tests/transforms/writeback/test_mapping.py",
        "the model the mapping parses into",
    ),
    "transforms/writeback/render.py": (
        "tests/transforms/writeback/test_validate.py",
        "the rendered cells pre-flight checks",
    ),
    "transforms/writeback/sinks.py": (
        "tests/transforms/writeback/test_reconcile.py",
        "where reconciled rows are stored",
    ),
    "connectors/fields.py": ("tests/connectors/test_metadata.py", "field specs from metadata"),
}


def mirror(module: Path) -> Path:
    """``engine/ledger/jobs.py`` -> ``tests/engine/ledger/test_jobs.py``."""
    return ROOT / "tests" / module.parent / f"test_{module.name}"


def modules() -> list[Path]:
    found = [
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not path.name.startswith("__")
    ]
    return sorted(found)


def test_every_module_has_its_test_file_or_says_which_file_tests_it() -> None:
    missing = [
        str(module)
        for module in modules()
        if not mirror(module).exists() and module.as_posix() not in TESTED_THROUGH
    ]
    assert missing == [], "add tests/<path>/test_<module>.py (or a TESTED_THROUGH entry)"


def test_every_exception_is_still_one() -> None:
    stale = []
    for name, (tests, why) in TESTED_THROUGH.items():
        module = Path(name)
        if not (ROOT / module).exists() or mirror(module).exists() or not why:
            stale.append(name)
        elif tests is not None and not (ROOT / tests).exists():
            stale.append(f"{name}: {tests} is gone")
    assert stale == []
