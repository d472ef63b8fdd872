"""``zoho-etl write --dry-run`` over hostile rows: every invalid row goes to a Parquet file
(and a CSV with ``--invalid-rows-csv``) with key, column, value and reason; the terminal shows
the first 10 and the file's path. Run as a child process against the simulator."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.testing import SimServer
from tests.flows.cli_process import run_cli

MAPPING = """\
module: Leads
operation: insert
key: ref
fields:
  - {source: last, api_name: Last_Name}
  - {source: first, api_name: First_Name}
  - {source: company, api_name: Company}
  - {source: email, api_name: Email}
  - {source: status, api_name: Lead_Status}
  - {source: employees, api_name: No_of_Employees}
  - {source: follow_up, api_name: Follow_Up_Date, format: yyyy-MM-dd}
"""

GOOD = {
    "last": "Lovelace",
    "first": "Ada",
    "company": "Analytical Engines",
    "email": "ada@example.com",
    "status": "Qualified",
    "employees": "12",
    "follow_up": "2025-03-01",
}

#: key -> (column, value) of each bad cell; two bad cells in "two-problems"
HOSTILE: dict[str, list[tuple[str, str | None]]] = {
    "month-13": [("follow_up", "2025-13-01")],
    "day-45": [("follow_up", "2025-02-45")],
    "us-date": [("follow_up", "03/01/2025")],
    "unknown-status": [("status", "Maybe Later")],
    "long-first-name": [("first", "A" * 300)],
    "no-last-name": [("last", None)],
    "blank-company": [("company", None)],
    "bad-email": [("email", "ada at example dot com")],
    "employees-word": [("employees", "twelve")],
    "employees-digits": [("employees", "1" * 12)],
    "two-problems": [("email", "nope"), ("follow_up", "yesterday")],
    "status-in-lowercase": [("status", "qualified")],
}


def hostile_rows(path: Path) -> Path:
    """30 good rows with the hostile ones spread between them, as Parquet (all text)."""
    rows: list[dict[str, str | None]] = []
    for n in range(30):
        rows.append({"ref": f"good-{n:02d}", **GOOD, "email": f"ada{n}@example.com"})
        if n % 2 == 0 and n // 2 < len(HOSTILE):
            key = list(HOSTILE)[n // 2]
            bad: dict[str, str | None] = {"ref": key, **GOOD, "email": f"{key}@example.com"}
            bad.update(HOSTILE[key])
            rows.append(bad)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_a_dry_run_writes_every_invalid_row_and_shows_the_first_ten(
    prefect_api: str, sim: SimServer, tmp_path: Path
) -> None:
    source = hostile_rows(tmp_path / "leads.parquet")
    mapping = tmp_path / "leads.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    data = tmp_path / "data"
    result = run_cli(
        sim, prefect_api, data, "write", str(source), "--mapping", str(mapping),
        "--dry-run", "--invalid-rows-csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    parquet = data / "writeback" / "invalid" / "crm_Leads.parquet"
    assert f"invalid rows: {parquet} and {parquet.with_suffix('.csv')}" in result.stdout
    lines = pq.read_table(parquet).to_pylist()
    expected = {(key, column, value) for key, cells in HOSTILE.items() for column, value in cells}
    assert {(r["key"], r["column"], r["value"]) for r in lines} == expected
    assert len(lines) == len(expected)  # one line per bad cell, no good row
    source_rows = pq.read_table(source).column("ref").to_pylist()
    for line in lines:
        assert source_rows[line["row"]] == line["key"]  # row numbers in the source's order
        assert all(line[name] for name in ("field", "code", "reason"))
    by_key = {r["key"]: r for r in lines if r["key"] != "two-problems"}
    assert by_key["no-last-name"]["code"] == "MANDATORY_NOT_FOUND"
    assert by_key["long-first-name"]["code"] == "LIMIT_EXCEEDED"
    assert by_key["unknown-status"]["field"] == "Lead_Status"
    with parquet.with_suffix(".csv").open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(lines)

    shown = [key for key in (*HOSTILE, *(f"good-{n:02d}" for n in range(30)))
             if f" {key} " in result.stdout]  # fmt: skip
    assert 0 < len(shown) <= 10
    assert all(key in HOSTILE for key in shown)
    assert f"first 10 of {len(lines)} problems ({len(HOSTILE)} invalid Leads rows)" in result.stdout
