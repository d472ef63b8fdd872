from __future__ import annotations

import json
from pathlib import Path

from bench.creator import main


def test_creator_bench_exports_every_record_once_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "creator.json"
    assert main(["--records", "2000", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["each_record_once"] is True
    assert result["ours"]["rows"] == result["ours"]["distinct_ids"] == 2_000
    assert result["floor"]["rows"] == 2_000
    assert result["ours"]["peak_rss_mb"] > 0
    assert len(result["ours"]["jobs"]) == 1
