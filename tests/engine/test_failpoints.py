from __future__ import annotations

import pytest

from engine.failpoints import ENV, _armed


@pytest.mark.parametrize(
    ("spec", "point", "module", "page", "armed"),
    [
        (None, "load", "Leads", 1, False),
        ("load", "load", "Leads", 7, True),
        ("job-created@Leads:2", "job-created", "Leads", 2, True),
        ("job-created@Leads:2", "job-created", "Leads", 1, False),
        ("job-created@Leads:2", "job-created", "Deals", 2, False),
        ("download@Deals,load@Leads:3", "load", "Leads", 3, True),
        ("download@Deals", "download", "Deals", 5, True),
    ],
)
def test_failpoint_specs(
    monkeypatch: pytest.MonkeyPatch,
    spec: str | None,
    point: str,
    module: str,
    page: int,
    armed: bool,
) -> None:
    if spec is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, spec)
    assert _armed(point, module, page) is armed
