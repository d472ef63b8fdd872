from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from connectors.creator_bulk import CreatorBulkQuery, CreatorBulkReader
from simulator.creator.state import creator_state
from simulator.testing import SimServer
from tests.connectors.creatorhelpers import creator_client
from tests.connectors.simhelpers import FAST_POLL
from transforms.creator import (
    CreatorInputError,
    convert_creator_batch,
    convert_records,
    creator_schema,
    csv_lookups,
    found_lookups,
    java_date_format,
)

UTC = dt.UTC


@dataclass(frozen=True)
class Field:
    link_name: str
    type: int


FIELDS = [
    Field("Name", 1),
    Field("Email", 3),
    Field("Quantity", 5),
    Field("Weight", 6),
    Field("Discount", 7),
    Field("Amount", 8),
    Field("Due_Date", 10),
    Field("Visit_Time", 11),
    Field("Status", 12),
    Field("Tags", 14),
    Field("Expedited", 16),
    Field("Customer", 12),
    Field("Website", 17),
]
RECORDS = [
    {
        "ID": "4876876020000000000",
        "Name": "Order 1",
        "Email": "a@example.com",
        "Quantity": "178",
        "Weight": "416.14",
        "Discount": "0.61",
        "Amount": "332470.82",
        "Due_Date": "27-Feb-2026",
        "Visit_Time": "27-Feb-2026 10:00:00",
        "Status": "Open",
        "Tags": ["Urgent", "VIP"],
        "Expedited": "true",
        "Customer": {"Name": "Acme", "ID": "4876876010000000035", "zc_display_value": "Acme"},
        "Website": "https://www.example.com/0",
        "Added_Time": "01-Jan-2026 00:00:00",
        "Modified_Time": "27-Feb-2026 23:59:59",
    },
    {
        "ID": "4876876020000000001",
        "Name": "Order 2",
        "Email": "",
        "Quantity": "",
        "Weight": "",
        "Discount": "",
        "Amount": "70.00",
        "Due_Date": "",
        "Visit_Time": "05-Sep-2026 14:42:52",
        "Status": "Closed",
        "Tags": [],
        "Expedited": "false",
        "Customer": "",
        "Website": "",
        "Added_Time": "01-Jan-2026 00:00:00",
        "Modified_Time": "01-Jan-2026 00:00:00",
    },
]


def test_java_date_formats() -> None:
    assert java_date_format("dd-MMM-yyyy") == "%d-%b-%Y"
    assert java_date_format("MMM dd,yyyy") == "%b %d,%Y"
    assert java_date_format("MM-dd-yyyy") == "%m-%d-%Y"
    with pytest.raises(CreatorInputError, match="date_format"):
        java_date_format("dd-QQ-yyyy")


def test_schema_types_from_type_codes_and_lookups() -> None:
    schema = creator_schema(
        FIELDS, date_format="dd-MMM-yyyy", time_zone="Asia/Kolkata", lookups=found_lookups(RECORDS)
    )
    types = {f.name: f.type for f in schema.arrow_schema}
    assert types == {
        "ID": pa.string(),
        "Name": pa.string(),
        "Email": pa.string(),
        "Quantity": pa.int64(),
        "Weight": pa.decimal128(38, 9),
        "Discount": pa.decimal128(38, 9),
        "Amount": pa.decimal128(38, 9),
        "Due_Date": pa.date32(),
        "Visit_Time": pa.timestamp("us", tz="UTC"),
        "Status": pa.string(),
        "Tags": pa.list_(pa.string()),
        "Expedited": pa.bool_(),
        "Customer__ID": pa.string(),
        "Customer__display": pa.string(),
        "Website": pa.string(),
        "Added_Time": pa.timestamp("us", tz="UTC"),
        "Modified_Time": pa.timestamp("us", tz="UTC"),
    }
    with pytest.raises(CreatorInputError, match="time_zone"):
        creator_schema(FIELDS, date_format="dd-MMM-yyyy", time_zone="Mars/Olympus")


def test_get_records_json_typed_in_the_app_format_and_zone() -> None:
    schema = creator_schema(
        FIELDS, date_format="dd-MMM-yyyy", time_zone="Asia/Kolkata", lookups={"Customer"}
    )
    converted = convert_records(RECORDS, schema)
    assert converted.failures == ()
    rows = converted.batch.to_pylist()
    first, second = rows
    assert first["ID"] == "4876876020000000000"
    assert first["Quantity"] == 178
    assert first["Amount"] == Decimal("332470.82")
    assert first["Due_Date"] == dt.date(2026, 2, 27)
    assert first["Visit_Time"] == dt.datetime(2026, 2, 27, 4, 30, tzinfo=UTC)  # IST is +05:30
    assert first["Modified_Time"] == dt.datetime(2026, 2, 27, 18, 29, 59, tzinfo=UTC)
    assert first["Tags"] == ["Urgent", "VIP"]
    assert first["Expedited"] is True
    assert (first["Customer__ID"], first["Customer__display"]) == ("4876876010000000035", "Acme")
    assert second["Expedited"] is False
    assert second["Email"] is None
    assert second["Quantity"] is None
    assert second["Tags"] is None
    assert (second["Customer__ID"], second["Customer__display"]) == (None, None)


def test_bulk_csv_batch_in_another_format_with_dst_and_rejects() -> None:
    fields = [Field("Due_Date", 10), Field("Visit_Time", 11), Field("Tags", 14), Field("Site", 12)]
    schema = creator_schema(
        fields,
        date_format="MM-dd-yyyy",
        time_zone="America/Los_Angeles",
        lookups={"Site"},
        system_fields=False,
    )
    raw = pa.RecordBatch.from_pydict(
        {
            "ID": ["1", "2", "3"],
            "Due_Date": ["02-27-2026", "27-02-2026", ""],
            "Visit_Time": ["07-01-2026 10:00:00", "01-15-2026 10:00:00", "01-15-2026 10:00:00"],
            "Tags": ["Urgent,VIP", "Bulk", ""],
            "Site": ["Harbour Depot", "4876876030000000007", ""],
        }
    )
    converted = convert_creator_batch(csv_lookups(raw, schema), schema)
    assert [f.column for f in converted.failures] == ["Due_Date"]
    assert converted.failures[0].raw_value == "27-02-2026"
    assert converted.rejected_rows == (1,)
    rows = converted.batch.to_pylist()
    assert [r["ID"] for r in rows] == ["1", "3"]
    assert rows[0]["Due_Date"] == dt.date(2026, 2, 27)
    assert rows[0]["Visit_Time"] == dt.datetime(2026, 7, 1, 17, tzinfo=UTC)  # PDT, -07:00
    assert rows[1]["Visit_Time"] == dt.datetime(2026, 1, 15, 18, tzinfo=UTC)  # PST, -08:00
    assert rows[0]["Tags"] == ["Urgent", "VIP"]
    assert (rows[0]["Site__ID"], rows[0]["Site__display"]) == (None, "Harbour Depot")
    assert rows[1]["Due_Date"] is None
    assert rows[1]["Tags"] is None


def test_a_bad_decision_box_and_number_are_rejected_not_guessed() -> None:
    schema = creator_schema(
        [Field("Flag", 16), Field("N", 5)],
        date_format="dd-MMM-yyyy",
        time_zone="UTC",
        system_fields=False,
    )
    raw = pa.RecordBatch.from_pydict(
        {"ID": ["1", "2", "3"], "Flag": ["true", "yes", "FALSE"], "N": ["1", "2", "x"]}
    )
    converted = convert_creator_batch(raw, schema)
    assert sorted((f.row, f.column) for f in converted.failures) == [(1, "Flag"), (2, "N")]
    assert converted.batch.to_pylist() == [{"ID": "1", "Flag": True, "N": 1}]


def test_missing_columns_are_named() -> None:
    schema = creator_schema([Field("N", 5)], date_format="dd-MMM-yyyy", time_zone="UTC")
    with pytest.raises(CreatorInputError, match="N, Added_Time, Modified_Time"):
        convert_creator_batch(pa.RecordBatch.from_pydict({"ID": ["1"]}), schema)
    lookups = creator_schema(
        [Field("L", 12)], date_format="dd-MMM-yyyy", time_zone="UTC", lookups={"L"}
    )
    with pytest.raises(CreatorInputError, match="lookup 'L'"):
        csv_lookups(pa.RecordBatch.from_pydict({"ID": ["1"]}), lookups)


def test_bulk_csv_and_get_records_from_the_simulator_type_alike(
    sim: SimServer, tmp_path: Path
) -> None:
    creator_state(sim.state).configure(job_seconds=(0.0, 0.0))
    client = creator_client(sim)
    app = next(a for a in client.applications() if a.link_name == "field-inspections")
    fields = client.fields(app.owner, app.link_name, "Inspection")
    pages = list(
        client.iter_records(app.owner, app.link_name, "Inspection_Report", field_config="all")
    )
    records = [r for page in pages for r in page]
    lookups = found_lookups(records)
    assert lookups == {"Site"}
    schema = creator_schema(
        fields, date_format=app.date_format, time_zone=app.time_zone, lookups=lookups
    )
    from_json = convert_records(records, schema)
    assert from_json.failures == ()
    reader = CreatorBulkReader(client, FAST_POLL)
    query = CreatorBulkQuery(fields=(*(f.link_name for f in fields), "Added_Time", "Modified_Time"))
    (batch,) = reader.iter_batches(app.owner, app.link_name, "Inspection_Report", query, tmp_path)
    with zipfile.ZipFile(batch.zip_path) as archive:
        (name,) = archive.namelist()
        options = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in [*schema.arrow_schema.names, "Site"]},
            strings_can_be_null=False,
        )
        table = pacsv.read_csv(io.BytesIO(archive.read(name)), convert_options=options)
    from_csv = convert_creator_batch(csv_lookups(table.to_batches()[0], schema), schema)
    assert from_csv.failures == ()
    json_rows = from_json.batch.drop_columns(["Site__ID"]).to_pylist()
    csv_rows = from_csv.batch.drop_columns(["Site__ID"]).to_pylist()
    assert len(json_rows) == 1_200
    assert sorted(json_rows, key=lambda r: r["ID"]) == sorted(csv_rows, key=lambda r: r["ID"])
    types = {f.name: str(f.type) for f in from_csv.batch.schema}
    assert types["Visit_Time"] == "timestamp[us, tz=UTC]"
    assert types["Due_Date"] == "date32[day]"
