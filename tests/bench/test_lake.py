from __future__ import annotations

import json
from pathlib import Path

from bench.lake import main


def test_lake_bench_writes_both_ways_merges_and_keeps_one_row_per_id(tmp_path: Path) -> None:
    out = tmp_path / "lake.json"
    argv = ["--rows", "3000", "--per-page", "1000", "--changes", "100", "--runs", "1"]
    argv += ["--data", str(tmp_path)]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["checks"] == {"all_rows_written": True, "one_row_per_id_after_merge": True}
    stages = result["stages"]
    assert stages["lake_pages"]["rows"] == stages["lake_pages_written"]["rows"] == 3000
    assert stages["lake_merge_recent"]["rows"] == stages["snapshot_rewrite_recent"]["rows"] == 3000
    assert {stages[f"lake_merge_dv_{kind}"]["rows"] for kind in ("scattered", "recent")} == {3000}
    assert all(stage["peak_rss_mb"] > 0 for stage in stages.values())
