"""Typed Arrow pages read from hand-made bulk-read zips, as the pipeline reads them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from tests.transforms.samples import EXTRACTED_AT, FIELDS, HEADER, csv_page, write_zip
from transforms.csv_reader import BulkCsv
from transforms.rejects import RejectsCollector
from transforms.schema import build_page_schema

COLUMNS = HEADER.split(",")


def lead(number: int, modified: str, **values: str | None) -> dict[str, str | None]:
    """One CSV row: id ``48768760000000{number:05d}``, every other column filled in."""
    row: dict[str, str | None] = {
        "id": f"48768760000000{number:05d}",
        "Owner": "4876876000000333001",
        "Name": f"Lead {number}",
        "Description": f"line one\nline two of {number}",
        "Amount": f"{number}.25",
        "Score": str(number),
        "Ratio": "0.5",
        "Probability": "12.50",
        "Big": "9999999999999999999",
        "Active": "true",
        "Closing_Date": "2025-03-01",
        "Modified_Time": modified,
        "Tags": "A;B c",
        "Account_Name": "4876876000000444001",
        "Account_Name.Account_Name": "Acme, Inc.",
        "Extra": None,
    }
    row.update(values)
    return row


def page_zip(directory: Path, job_id: str, rows: list[dict[str, str | None]]) -> Path:
    return write_zip(directory, job_id, csv_page(rows, COLUMNS))


def read_page(zip_path: Path, extracted_at: datetime = EXTRACTED_AT) -> pa.Table:
    """The page's typed batches as one table (data columns + metadata columns)."""
    source = BulkCsv(zip_path)
    schema = build_page_schema(source.header, FIELDS)
    rejects = RejectsCollector(zip_path.with_suffix(".rejects.csv"), source.label)
    try:
        batches = list(
            source.iter_batches(
                schema,
                module="Leads",
                job_id=zip_path.stem,
                extracted_at=extracted_at,
                rejects=rejects,
            )
        )
    finally:
        rejects.close()
    return pa.Table.from_batches(batches, schema=schema.arrow_schema)
