"""Write-back sources and the dry run, as plain functions against the simulator."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.errors import SourceError
from flows.runtime import Runtime
from flows.settings import RunSettings, ZohoConnection
from flows.writeback import DEMO_MAPPING, demo_rows, read_source, run_write


@pytest.fixture
def outbox(rt: Runtime, tmp_path: Path) -> Path:
    """The demo rows as a Parquet file and as the warehouse table ``outbox``."""
    path = tmp_path / "rows.parquet"
    pq.write_table(demo_rows(), path)
    with rt.load_lock:
        rt.warehouse.connection.execute(  # type: ignore[attr-defined]
            "CREATE TABLE outbox AS SELECT * FROM read_parquet(?)", [str(path)]
        )
    return path


@pytest.mark.parametrize(
    ("source", "rows", "rejected"),
    [
        ("PARQUET", 20, 3),
        ("table:outbox", 20, 3),
        ("sql:SELECT * FROM outbox WHERE lead_no NOT IN ('L-005', 'L-011')", 18, 1),
    ],
)
def test_every_source_kind_validates_in_a_dry_run(
    rt: Runtime,
    connection: ZohoConnection,
    settings: RunSettings,
    outbox: Path,
    tmp_path: Path,
    source: str,
    rows: int,
    rejected: int,
) -> None:
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(DEMO_MAPPING, encoding="utf-8")
    given = str(outbox) if source == "PARQUET" else source
    summary = run_write(connection, settings, "crm", str(mapping), given, dry_run=True)
    assert summary["counts"] == {"rows": rows, "valid": rows - rejected, "rejected": rejected}
    assert summary["credits"] == 0
    assert summary["credits_needed"] == 500
    assert "MANDATORY_NOT_FOUND-Last_Name" in summary["issues"] or rows == 18


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.parquet", "no such file or directory"),
        ("table:drop table x", "letters, digits and underscores"),
        ("sql:SELECT * FROM no_such_table", "CatalogException"),
        ("sql:DROP TABLE outbox", "only a SELECT"),
        ("sql:", "only a SELECT"),
    ],
)
def test_unusable_sources_say_why(rt: Runtime, source: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read_source(rt, source)
