"""Which interrupted extract an export resumes (``engine.resume``), over a real ledger.

The CLI side (a full export stopped with Ctrl-C, resumed by a plain ``export`` with other
flags) is ``tests/cli/test_interrupt.py``; here each rule is checked against the ledger alone.
"""

from __future__ import annotations

import logging

import pytest

from engine.ledger import ExtractState
from engine.resume import interrupted_extract
from engine.runtime import Runtime


def open_extract(rt: Runtime, kind: str) -> str:
    extract, resumed = rt.ledger.open_extract(
        org=rt.org, product="crm", module="Leads", kind=kind, query={"module": "Leads"},
        method="bulk", reason="test",
    )  # fmt: skip
    assert not resumed
    return extract.extract_id


def test_nothing_running_means_nothing_to_resume(rt: Runtime) -> None:
    assert interrupted_extract(rt, "crm", "Leads", "full") is None
    assert interrupted_extract(rt, "crm", "Leads", "incremental") is None


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_the_running_extract_of_the_same_kind_is_resumed(rt: Runtime, kind: str) -> None:
    extract_id = open_extract(rt, kind)
    found = interrupted_extract(rt, "crm", "Leads", kind)
    assert found is not None
    assert found.extract_id == extract_id


def test_an_incremental_run_resumes_an_interrupted_full_export(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    full = open_extract(rt, "full")
    with caplog.at_level(logging.WARNING, logger="engine.resume"):
        found = interrupted_extract(rt, "crm", "Leads", "incremental")
    assert found is not None
    assert found.extract_id == full
    assert rt.ledger.get_extract(full).state == ExtractState.RUNNING
    assert "resuming the interrupted full export" in caplog.text


def test_a_full_run_closes_an_interrupted_incremental_export(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    incremental = open_extract(rt, "incremental")
    with caplog.at_level(logging.WARNING, logger="engine.resume"):
        assert interrupted_extract(rt, "crm", "Leads", "full") is None
    assert rt.ledger.get_extract(incremental).state == ExtractState.FAILED
    assert "--full reads every record anyway" in caplog.text
    assert interrupted_extract(rt, "crm", "Leads", "incremental") is None


def test_another_module_or_org_is_not_resumed(rt: Runtime) -> None:
    open_extract(rt, "full")
    assert interrupted_extract(rt, "crm", "Contacts", "full") is None
    assert interrupted_extract(rt, "recruit", "Leads", "full") is None
