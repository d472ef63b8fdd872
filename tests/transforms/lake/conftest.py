from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from tests.transforms.lake.pages import lead, page_zip, read_page


@pytest.fixture
def pages(tmp_path: Path) -> dict[str, pa.Table]:
    """A full export in two pages, then an incremental run (see each page's comment)."""
    zips = tmp_path / "zips"
    old, new = "2025-03-01T10:00:00+00:00", "2025-03-05T09:30:00+05:30"
    return {
        "full-1": read_page(page_zip(zips, "1001", [lead(n, old) for n in range(1, 6)])),
        "full-2": read_page(page_zip(zips, "1002", [lead(n, old) for n in range(6, 11)])),
        # 2 and 3 changed (newer), 4 delivered with an OLDER time (must not win), 11 is new
        "incremental": read_page(
            page_zip(
                zips,
                "2001",
                [
                    lead(2, new, Name="Changed 2", Score="-2"),
                    lead(3, new, Tags="Single", Amount=None),
                    lead(4, "2024-01-01T00:00:00+00:00", Name="Stale 4"),
                    lead(11, new),
                ],
            )
        ),
    }
