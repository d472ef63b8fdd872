"""`transforms.lake.stats`: complete, exact Delta statistics from a Parquet file's footer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.lake.stats import file_stats

STAMP = pa.timestamp("us", tz="UTC")


def sample() -> pa.Table:
    return pa.table(
        {
            "id": ["3", "1", "2"],
            "When": pa.array(
                [
                    datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
                    datetime(2026, 1, 2, 0, 0, 0, 999999, tzinfo=UTC),
                    None,
                ],
                STAMP,
            ),
            "Day": pa.array([date(2026, 3, 1), date(2025, 1, 9), date(2026, 3, 2)]),
            "Amount": pa.array([Decimal("1.25"), Decimal("-7.50"), None], pa.decimal128(9, 2)),
            "Big": pa.array([Decimal("9999999999999999999"), Decimal(5), None], pa.decimal128(19)),
            "Fine": pa.array(
                [Decimal("0.12345678901234567"), Decimal(0), None], pa.decimal128(20, 17)
            ),
            "Ratio": [0.1, 2.5, None],
            "Empty": pa.array([None, None, None], pa.string()),
            "Tags": pa.array([["a"], None, ["b", "c"]], pa.list_(pa.string())),
        }
    )


@pytest.mark.parametrize("statistics", [True, False], ids=["footer", "values"])
def test_every_primitive_column_gets_nulls_min_and_max(tmp_path: Path, statistics: bool) -> None:
    path = tmp_path / "page.parquet"
    pq.write_table(sample(), path, write_statistics=statistics, row_group_size=2)
    table_schema = sample().schema.append(pa.field("_zoho_deleted_at", STAMP))
    stats = json.loads(file_stats(path, table_schema))

    assert stats["numRecords"] == 3
    assert stats["nullCount"] == {
        "id": 0, "When": 1, "Day": 0, "Amount": 1, "Big": 1, "Fine": 1, "Ratio": 1,
        "Empty": 3, "_zoho_deleted_at": 3,  # not in the file: null in every row
    }  # fmt: skip
    low, high = stats["minValues"], stats["maxValues"]
    assert (low["id"], high["id"]) == ("1", "3")
    # milliseconds, rounded outward
    assert (low["When"], high["When"]) == ("2026-01-01T00:00:00.123Z", "2026-01-02T00:00:01.000Z")
    assert (low["Day"], high["Day"]) == ("2025-01-09", "2026-03-02")
    assert (low["Amount"], high["Amount"]) == (-7.5, 1.25)
    assert (low["Big"], high["Big"]) == (5, 9999999999999999999)  # exact past 2**63
    assert high["Fine"] == "0.12345678901234567"  # 17 digits: text, not an inexact float
    assert low["Ratio"] < 0.1 < 2.5 < high["Ratio"]
    assert "Empty" not in low
    assert "Tags" not in stats["nullCount"]  # nested: none, as delta-rs writes
