"""Legs of ``make bench`` with a simulator of their own: serial pages against parallel windows
(``bench.windows``) and a Creator report (``bench.creator``). A failed leg is recorded in the
document's ``failed_legs``; the other legs' figures still count."""

from __future__ import annotations

import sys
from typing import Any

from bench.e2e_config import E2EConfig


def add_windows(document: dict[str, Any], config: E2EConfig) -> None:
    """Serial pages against parallel windows (``bench.windows``, its own simulator) into the
    document: its figures, its ratios next to the others, its targets in the same table."""
    from bench import windows

    assert config.windows_time_scale is not None
    print(f"[bench] windows (time scale {config.windows_time_scale}) ...", file=sys.stderr)
    try:
        result = windows.run(
            config.records,
            config.windows_time_scale,
            config.windows_jobs_at_once,
            17 if config.seed is None else config.seed,
            config.per_page,
        )
    except Exception as exc:  # the other legs' figures still count
        document["failed_legs"]["windows"] = f"{type(exc).__name__}: {exc}"
        print(f"[bench] windows FAILED: {exc}; continuing", file=sys.stderr, flush=True)
        return
    document["windows"] = result
    document["ratios"].update(windows.ratios(result))
    document["targets"] += [t.to_dict() for t in windows.targets(result)]


def add_creator(document: dict[str, Any], config: E2EConfig) -> None:
    """A ``creator_records``-record Creator report (``bench.creator``): ours against the same
    floor, peak RSS, every record once; its ratio and targets next to the others."""
    from bench import creator

    assert config.creator_records is not None
    print(f"[bench] creator ({config.creator_records:,} records) ...", file=sys.stderr)
    try:
        result = creator.run(config.creator_records)
    except Exception as exc:  # the other legs' figures still count
        document["failed_legs"]["creator"] = f"{type(exc).__name__}: {exc}"
        print(f"[bench] creator FAILED: {exc}; continuing", file=sys.stderr, flush=True)
        return
    document["creator"] = result
    document["ratios"]["creator_ours_over_floor_wall"] = result["ours_over_floor_wall"]
    document["targets"] += [t.to_dict() for t in creator.targets(result)]
