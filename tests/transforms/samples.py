"""Hand-made bulk-read pages and simulator pages shared by the transforms tests."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.fields import FieldSpec

#: Every Zoho data type family the schema maps, with the metadata Zoho would send.
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Owner", "ownerlookup", lookup_module="users"),
    FieldSpec("Name", "text", length=255),
    FieldSpec("Description", "textarea"),
    FieldSpec("Amount", "currency", length=16, decimal_place=2),
    FieldSpec("Score", "integer"),
    FieldSpec("Ratio", "double"),
    FieldSpec("Probability", "percent", length=5, decimal_place=2),
    FieldSpec("Big", "bigint"),
    FieldSpec("Active", "boolean"),
    FieldSpec("Closing_Date", "date"),
    FieldSpec("Modified_Time", "datetime"),
    FieldSpec("Tags", "multiselectpicklist", picklist_values=("A", "B c", "Single")),
    FieldSpec("Account_Name", "lookup", lookup_module="Accounts"),
)
HEADER = (
    "id,Owner,Name,Description,Amount,Score,Ratio,Probability,Big,Active,Closing_Date,"
    "Modified_Time,Tags,Account_Name,Account_Name.Account_Name,Extra"
)
ROWS = (
    '"4876876000000000001","4876876000000333001","Ünïcødé 名前",'
    '"line1\nline2, with ""quotes"" and, commas","1234.50","42","0.125","12.50",'
    '"9999999999999999999","true","2025-03-01","2025-03-01T10:15:00+05:30","A;B c",'
    '"4876876000000444001","Acme, Inc.","x"',
    '"4876876000000000002",,,,,,,,,,,"2025-03-01T00:00:00+00:00",,,,',
    '"4876876000000000003","4876876000000333002","مرحبا","Привет\r\nмир","-5.25","-3",'
    '"1e3","0","1","false","1999-12-31","2024-12-31T23:30:00-07:00","Single",'
    '"4876876000000444002","日本語 株式会社",""',
)
CSV_TEXT = HEADER + "\n" + "\n".join(ROWS) + "\n"

IST = timezone(timedelta(hours=5, minutes=30))
MST = timezone(timedelta(hours=-7))
#: The typed values of CSV_TEXT, written by hand (column names after renaming).
EXPECTED: dict[str, dict[str, Any]] = {
    "4876876000000000001": {
        "Owner": "4876876000000333001",
        "Name": "Ünïcødé 名前",
        "Description": 'line1\nline2, with "quotes" and, commas',
        "Amount": Decimal("1234.50"),
        "Score": 42,
        "Ratio": 0.125,
        "Probability": Decimal("12.50"),
        "Big": Decimal("9999999999999999999"),
        "Active": True,
        "Closing_Date": date(2025, 3, 1),
        "Modified_Time": datetime(2025, 3, 1, 10, 15, tzinfo=IST).astimezone(UTC),
        "Tags": ["A", "B c"],
        "Account_Name": "4876876000000444001",
        "Account_Name__Account_Name": "Acme, Inc.",
        "Extra": "x",
    },
    "4876876000000000002": {
        "Owner": None,
        "Name": None,
        "Description": None,
        "Amount": None,
        "Score": None,
        "Ratio": None,
        "Probability": None,
        "Big": None,
        "Active": None,
        "Closing_Date": None,
        "Modified_Time": datetime(2025, 3, 1, tzinfo=UTC),
        "Tags": None,
        "Account_Name": None,
        "Account_Name__Account_Name": None,
        "Extra": None,
    },
    "4876876000000000003": {
        "Owner": "4876876000000333002",
        "Name": "مرحبا",
        "Description": "Привет\r\nмир",
        "Amount": Decimal("-5.25"),
        "Score": -3,
        "Ratio": 1000.0,
        "Probability": Decimal("0.00"),
        "Big": Decimal("1"),
        "Active": False,
        "Closing_Date": date(1999, 12, 31),
        "Modified_Time": datetime(2024, 12, 31, 23, 30, tzinfo=MST).astimezone(UTC),
        "Tags": ["Single"],
        "Account_Name": "4876876000000444002",
        "Account_Name__Account_Name": "日本語 株式会社",
        "Extra": None,
    },
}


def write_zip(directory: Path, job_id: str, csv_text: str) -> Path:
    """``{directory}/{job_id}.zip`` holding ``{job_id}.csv`` (UTF-8), like a bulk-read result."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{job_id}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{job_id}.csv", csv_text.encode("utf-8"))
    return path


def csv_page(rows: list[dict[str, str | None]], header: list[str]) -> str:
    """A CSV page built with the csv module (RFC 4180 quoting, None -> empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else row[h] for h in header])
    return buffer.getvalue()


def rows_by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in records}


EXTRACTED_AT = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
