"""Legs of ``make bench`` with a simulator of their own: serial pages against parallel windows
(``bench.windows``) and a Creator report (``bench.creator``). A failed leg is recorded in the
document's ``failed_legs``; the other legs' figures still count."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench.e2e_config import E2EConfig
from bench.e2e_targets import Target

Result = dict[str, Any]


def add_windows(document: dict[str, Any], config: E2EConfig) -> None:
    """Serial pages against parallel windows (``bench.windows``, its own simulator) into the
    document: its figures, its ratios next to the others, its targets in the same table."""
    from bench import windows

    time_scale = config.windows_time_scale
    assert time_scale is not None
    _add_leg(
        document,
        "windows",
        f"windows (time scale {time_scale})",
        lambda: windows.run(
            config.records,
            time_scale,
            config.windows_jobs_at_once,
            17 if config.seed is None else config.seed,
            config.per_page,
        ),
        windows.ratios,
        windows.targets,
    )


def add_creator(document: dict[str, Any], config: E2EConfig) -> None:
    """A ``creator_records``-record Creator report (``bench.creator``): ours against the same
    floor, peak RSS, every record once; its ratio and targets next to the others."""
    from bench import creator

    records = config.creator_records
    assert records is not None
    _add_leg(
        document,
        "creator",
        f"creator ({records:,} records)",
        lambda: creator.run(records),
        lambda result: {"creator_ours_over_floor_wall": result["ours_over_floor_wall"]},
        creator.targets,
    )


def _add_leg(
    document: dict[str, Any],
    name: str,
    label: str,
    run: Callable[[], Result],
    ratios: Callable[[Result], dict[str, Any]],
    targets: Callable[[Result], list[Target]],
) -> None:
    """Run one leg into ``document[name]``, its ratios and targets beside the others'."""
    print(f"[bench] {label} ...", file=sys.stderr)
    try:
        result = run()
    except Exception as exc:  # the other legs' figures still count
        document["failed_legs"][name] = f"{type(exc).__name__}: {exc}"
        print(f"[bench] {name} FAILED: {exc}; continuing", file=sys.stderr, flush=True)
        return
    document[name] = result
    document["ratios"].update(ratios(result))
    document["targets"] += [t.to_dict() for t in targets(result)]
