"""``load_page`` end to end: hand-made pages, then real exports served by the simulator."""

from __future__ import annotations

import csv
import io
import re
import threading
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.auth import OAuthCredentials
from connectors.bulk_read import BulkReadQuery, PollPolicy
from connectors.client import ZohoClient
from connectors.datacenters import Endpoints
from connectors.fields import FieldSpec
from simulator.testing import SimServer
from transforms import LoadHooks, load_page, open_warehouse
from transforms.errors import SchemaDriftError
from transforms.pipeline import PageLoadResult
from transforms.rejects import read_rejects
from transforms.warehouse import Warehouse

from .samples import CSV_TEXT, EXPECTED, EXTRACTED_AT, FIELDS, write_zip


def load(
    zip_path: Path, root: Path, warehouse: Warehouse | str | None, **extra: Any
) -> PageLoadResult:
    options: dict[str, Any] = {
        "product": "crm",
        "module": "Deals",
        "job_id": zip_path.stem,
        "extracted_at": EXTRACTED_AT,
        "parquet_root": root / "lake",
        "warehouse": warehouse,
        **extra,
    }
    return load_page(zip_path, FIELDS, **options)


def parquet_rows(root: Path) -> dict[str, dict[str, Any]]:
    table = pq.read_table(root / "lake" / "crm" / "Deals", partitioning="hive")
    return {row["id"]: row for row in table.to_pylist()}


def test_hand_made_page_round_trips_to_parquet_and_warehouse(
    tmp_path: Path, warehouse: Warehouse, table_name: str
) -> None:
    result = load(
        write_zip(tmp_path / "in", "111", CSV_TEXT), tmp_path, warehouse, table=table_name
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    assert result.drift is not None
    assert result.drift.created_table
    assert result.stage_seconds is not None
    assert result.merge_seconds is not None
    assert result.to_dict()["merge_seconds"] == round(result.merge_seconds, 3)
    assert result.unknown_columns == ("Extra",)
    in_parquet = parquet_rows(tmp_path)
    in_warehouse = {row["id"]: row for row in warehouse.read_table(table_name).to_pylist()}
    for record_id, expected in EXPECTED.items():
        assert {k: in_parquet[record_id][k] for k in expected} == expected
        assert {k: in_warehouse[record_id][k] for k in expected} == expected


def test_reloading_pages_is_idempotent(
    tmp_path: Path, warehouse: Warehouse, table_name: str
) -> None:
    page = write_zip(tmp_path / "in", "111", CSV_TEXT)
    first = load(page, tmp_path, warehouse, table=table_name)
    second = load(page, tmp_path, warehouse, table=table_name)
    assert first.parquet_files == second.parquet_files
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 1
    assert len(parquet_rows(tmp_path)) == 3
    assert warehouse.read_table(table_name).column("id").to_pylist() == sorted(EXPECTED)


def test_bad_rows_are_rejected_with_reasons_and_counts_reconcile(tmp_path: Path) -> None:
    bad = (
        CSV_TEXT
        + '"4876876000000000009","x"\n'
        + ('"4876876000000000010",,,,"12.345",,,,,"maybe",,"2025-03-01T00:00:00+00:00",,,,\n')
    )
    result = load(
        write_zip(tmp_path / "in", "222", bad), tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}"
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 2)
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert (
        result.rejects_path == tmp_path / "lake" / "_rejects" / "crm" / "Deals" / "222.rejects.csv"
    )
    rejects = sorted(
        read_rejects(result.rejects_path), key=lambda r: (r.record or 0, r.column or "")
    )
    assert [(r.record, r.line, r.column, r.raw_value) for r in rejects] == [
        (4, 7, None, '"4876876000000000009","x"'),
        (5, 8, "Active", "maybe"),
        (5, 8, "Amount", "12.345"),
    ]
    assert len(parquet_rows(tmp_path)) == 3
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert con.execute('SELECT count(*) FROM "crm_Deals"').fetchall() == [(3,)]


def test_frozen_drift_loads_nothing_anywhere(
    tmp_path: Path, warehouse: Warehouse, table_name: str
) -> None:
    load(write_zip(tmp_path / "in", "111", CSV_TEXT), tmp_path, warehouse, table=table_name)
    retyped = [FieldSpec(f.api_name, "text") if f.api_name == "Score" else f for f in FIELDS]
    page = write_zip(tmp_path / "in", "333", CSV_TEXT)
    with pytest.raises(SchemaDriftError, match="Score"):
        load_page(
            page,
            retyped,
            product="crm",
            module="Deals",
            job_id="333",
            extracted_at=EXTRACTED_AT,
            parquet_root=tmp_path / "lake",
            warehouse=warehouse,
            table=table_name,
            drift_policy="freeze",
        )
    assert [p.name for p in (tmp_path / "lake").rglob("*.parquet")] == ["111-0000.parquet"]


def test_killed_page_load_changes_nothing_and_rerun_completes(
    tmp_path: Path, warehouse: Warehouse, table_name: str
) -> None:
    page = write_zip(tmp_path / "in", "111", CSV_TEXT)

    def kill() -> None:
        raise RuntimeError("killed between staging and merge")

    with pytest.raises(RuntimeError, match="killed"):
        load(page, tmp_path, warehouse, table=table_name, hooks=LoadHooks(after_staging=kill))
    assert warehouse.table_schema(table_name) is None
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    result = load(page, tmp_path, warehouse, table=table_name)
    assert result.rows_loaded == 3
    assert warehouse.read_table(table_name).num_rows == 3


def test_parquet_only_and_warehouse_only(tmp_path: Path) -> None:
    page = write_zip(tmp_path / "in", "111", CSV_TEXT)
    parquet_only = load(page, tmp_path, None)
    assert parquet_only.table is None
    assert parquet_only.drift is None
    assert len(parquet_rows(tmp_path)) == 3
    url = f"duckdb:///{tmp_path / 'only.duckdb'}"
    warehouse_only = load(page, tmp_path, url, parquet_root=None)
    assert warehouse_only.parquet_files == ()
    assert warehouse_only.to_dict()["table"] == "crm_Deals"
    with open_warehouse(url) as opened:  # the URL's connection was closed by load_page
        assert opened.read_table("crm_Deals").num_rows == 3


def test_extraction_time_must_be_timezone_aware(tmp_path: Path) -> None:
    page = write_zip(tmp_path / "in", "111", CSV_TEXT)
    with pytest.raises(ValueError, match="timezone-aware"):
        load(page, tmp_path, None, extracted_at=datetime(2025, 1, 1))


# -- real exports from the simulator -----------------------------------------------------


def export_pages(
    sim: SimServer, module: str, fields: list[str], dest: Path
) -> tuple[tuple[FieldSpec, ...], list[Path]]:
    """Export ``module`` through the connectors' bulk-read client, as a flow would."""
    org = sim.state.org("us-enterprise")
    credentials = OAuthCredentials(
        client_id=org.client_id, client_secret=org.client_secret, refresh_token=org.refresh_token
    )
    poll = PollPolicy(initial=0.05, factor=1.0, max_interval=0.05, timeout=30)
    endpoints = Endpoints.for_simulator(sim.base_url, dc="us")
    with ZohoClient.for_product("crm", credentials, endpoints=endpoints, poll=poll) as client:
        metadata = client.metadata.fields(module)
        query = BulkReadQuery(module, fields=tuple(fields))
        zips = [page.zip_path for page in client.bulk_read.iter_pages(query, dest)]
    return metadata, zips


def expected_from_csv(zip_path: Path, fields: tuple[FieldSpec, ...]) -> dict[str, dict[str, Any]]:
    """Typed values computed from the raw CSV with plain Python (independent of pyarrow)."""
    by_name = {f.api_name: f for f in fields}
    with zipfile.ZipFile(zip_path) as archive:
        text = archive.read(f"{zip_path.stem}.csv").decode("utf-8-sig")
    out: dict[str, dict[str, Any]] = {}
    for row in csv.DictReader(io.StringIO(text, newline="")):
        record = {}
        for header, raw in row.items():
            spec = by_name.get(header)
            name = header.replace(".", "__")
            record[name] = (
                None if raw == "" else python_value(raw, spec.data_type if spec else "text", spec)
            )
        out[row["id"]] = record
    return out


def python_value(raw: str, data_type: str, spec: FieldSpec | None) -> Any:
    if data_type == "datetime":
        return datetime.fromisoformat(raw).astimezone(UTC)
    if data_type == "date":
        return date.fromisoformat(raw)
    if data_type == "boolean":
        return {"true": True, "false": False}[raw]
    if data_type == "integer":
        return int(raw)
    if data_type == "bigint":
        return Decimal(raw)
    if data_type in {"double", "decimal", "currency", "percent"}:
        return Decimal(raw) if spec is not None and spec.decimal_place is not None else float(raw)
    if data_type in {"multiselectpicklist", "multiselectlookup", "multiuserlookup"}:
        return raw.split(";")
    return raw


def load_export(
    zips: list[Path],
    fields: tuple[FieldSpec, ...],
    module: str,
    root: Path,
    warehouse: Warehouse,
    table: str,
) -> tuple[dict[str, dict[str, Any]], pa.Table, pa.Table]:
    """Load every page; return the values expected from the raw CSVs, the lake and the table."""
    expected: dict[str, dict[str, Any]] = {}
    for zip_path in zips:
        expected.update(expected_from_csv(zip_path, fields))
        result = load_page(
            zip_path,
            fields,
            product="crm",
            module=module,
            job_id=zip_path.stem,
            extracted_at=EXTRACTED_AT,
            parquet_root=root / "lake",
            warehouse=warehouse,
            table=table,
        )
        assert result.rows_rejected == 0
        assert result.rows_read == result.rows_loaded
    lake = pq.read_table(root / "lake" / "crm" / module, partitioning="hive")
    return expected, lake, warehouse.read_table(table)


def assert_same_values(expected: dict[str, dict[str, Any]], *tables: pa.Table) -> None:
    for table in tables:
        assert table.num_rows == len(expected)
        stored = {row["id"]: row for row in table.to_pylist()}
        for record_id, values in expected.items():
            assert {k: stored[record_id][k] for k in values} == values


@pytest.mark.timeout(120)
def test_simulator_contacts_with_lookups_round_trip(
    sim: SimServer, tmp_path: Path, warehouse: Warehouse, table_name: str
) -> None:
    sim.state.configure(per_page=600)  # 1,500 contacts -> 3 pages
    columns = [
        "Last_Name", "First_Name", "Email", "Account_Name", "Account_Name.Account_Name",
        "Date_of_Birth", "Description", "Email_Opt_Out", "Languages", "Contact_Score",
        "Engagement_Rate", "Lifetime_Value", "Last_Activity_Time", "Modified_Time", "Owner",
    ]  # fmt: skip
    fields, zips = export_pages(sim, "Contacts", columns, tmp_path / "downloads")
    assert len(zips) == 3
    expected, lake, stored = load_export(zips, fields, "Contacts", tmp_path, warehouse, table_name)
    assert len(expected) == 1500
    assert_same_values(expected, lake, stored)
    # the sample really holds what the issue asks for (else the equality above proves little)
    descriptions = [v["Description"] or "" for v in expected.values()]
    assert any("\n" in d for d in descriptions)
    assert any("," in d for d in descriptions)
    assert any(any(ord(ch) > 0x2FF for ch in d) for d in descriptions)
    assert any(len(v["Languages"] or []) > 1 for v in expected.values())
    assert any(v["Email"] is None or v["Date_of_Birth"] is None for v in expected.values())
    assert any(v["Account_Name__Account_Name"] for v in expected.values())
    with zipfile.ZipFile(zips[0]) as archive:
        raw = archive.read(f"{zips[0].stem}.csv").decode()
    assert len(set(re.findall(r"T\d\d:\d\d:\d\d([+-]\d\d:\d\d)", raw))) > 1  # several offsets
    types = stored.schema
    assert pa.types.is_list(types.field("Languages").type)
    assert types.field("Lifetime_Value").type == lake.schema.field("Lifetime_Value").type
    assert pa.types.is_decimal(types.field("Lifetime_Value").type)
    assert types.field("Last_Activity_Time").type == pa.timestamp("us", tz="UTC")


@pytest.mark.timeout(120)
def test_simulator_accounts_with_every_field_round_trip(
    sim: SimServer, tmp_path: Path, warehouse: Warehouse, table_name: str
) -> None:
    fields, zips = export_pages(sim, "Accounts", [], tmp_path / "downloads")  # all fields
    expected, lake, stored = load_export(zips, fields, "Accounts", tmp_path, warehouse, table_name)
    assert len(expected) == 300
    assert_same_values(expected, lake, stored)
    mapped = {
        f.data_type: stored.schema.field(f.api_name).type for f in fields if not f.external
    }  # bulk read does not export external fields
    assert mapped["bigint"] == pa.decimal128(19, 0)
    assert mapped["integer"] == pa.int64()
    assert pa.types.is_decimal(mapped["double"])
    assert mapped["boolean"] == pa.bool_()
    assert mapped["date"] == pa.date32()
    assert mapped["picklist"] == pa.string()


def test_an_empty_file_loads_nothing_and_says_so(tmp_path: Path) -> None:
    result = load(
        write_zip(tmp_path / "in", "444", ""), tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}"
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (0, 0, 0)
    assert result.parquet_files == ()
    assert result.drift is None


class DiesMidPage:
    """A warehouse that fails after the first batch of a page."""

    def load(self, table: str, schema: pa.Schema, batches: Any, **options: Any) -> None:
        next(iter(batches))
        raise RuntimeError("warehouse died mid-page")


def test_a_failed_load_stops_reading_at_once(tmp_path: Path) -> None:
    rows = "".join(
        f'"{10**18 + i}",,,,,,,,,,,"2025-03-01T00:00:00+00:00",,,,\n' for i in range(5000)
    )
    page = write_zip(tmp_path / "in", "555", CSV_TEXT + rows)
    with pytest.raises(RuntimeError, match="mid-page") as info:
        load_page(
            page,
            FIELDS,
            product="crm",
            module="Deals",
            job_id="555",
            extracted_at=EXTRACTED_AT,
            parquet_root=tmp_path / "lake",
            warehouse=DiesMidPage(),  # type: ignore[arg-type]
            block_size=4096,
        )
    assert info.value is not None  # the traceback (and its frames) is still alive here
    assert not [t for t in threading.enumerate() if t.name == "csv-prefetch"]
    assert not list((tmp_path / "lake").rglob("*.parquet"))


def test_the_page_says_its_newest_records_and_rejected_rows_do_not_count(
    tmp_path: Path,
) -> None:
    tie = '"4876876000000000011",,,,,,,,,,,"2025-03-01T04:45:00+00:00",,,,\n'
    rejected_newer = '"4876876000000000012",,,,,,,,,"maybe",,"2026-01-01T00:00:00+00:00",,,,\n'
    page = write_zip(tmp_path / "in", "333", CSV_TEXT + tie + rejected_newer)
    result = load(page, tmp_path, None)
    assert result.rows_rejected == 1
    assert result.newest_modified == datetime(2025, 3, 1, 4, 45, tzinfo=UTC)
    assert result.newest_ids == ("4876876000000000001", "4876876000000000011")
    newest = pq.read_table(tmp_path / "lake" / "crm" / "Deals", partitioning="hive")
    assert max(newest["Modified_Time"].to_pylist()) == result.newest_modified


def test_an_empty_page_has_no_newest_record(tmp_path: Path) -> None:
    page = write_zip(tmp_path / "in", "334", CSV_TEXT.splitlines()[0] + "\n")
    result = load(page, tmp_path, None)
    assert (result.newest_modified, result.newest_ids) == (None, ())
