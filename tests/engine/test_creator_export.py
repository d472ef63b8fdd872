from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.creator_source import module_key, table_for
from engine.lake import open_lake_table
from engine.runtime import Runtime, close_runtimes, runtime_for
from engine.settings import ZohoConnection
from simulator.creator.state import CreatorState
from simulator.testing import SimServer
from tests.conftest import fast_settings
from tests.engine.creatorhelpers import (
    ACCOUNT,
    APP,
    FORM,
    ORG,
    REPORT,
    TABLE,
    assert_lake_equals_warehouse,
    lake,
    sim_creator,
    table,
)
from tests.engine.creatorhelpers import export as run_export
from transforms.errors import SchemaDriftError

EXPECTED_TYPES = {
    "id": pa.string(),
    "Order_Name": pa.string(),
    "Contact_Email": pa.string(),
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


def test_table_name_replaces_characters_outside_the_identifier_set() -> None:
    assert table_for("order-desk", "All_Orders") == TABLE
    assert table_for("field.inspections 2", "Report-1") == "creator_field_inspections_2_Report_1"


@pytest.mark.parametrize(
    ("app", "report", "form", "zone", "date_format"),
    [
        (APP, REPORT, FORM, "Asia/Kolkata", "%d-%b-%Y"),
        ("field-inspections", "Inspection_Report", "Inspection", "America/Los_Angeles", "%m-%d-%Y"),
    ],
)
def test_every_field_type_is_typed_and_round_trips_to_the_warehouse_and_the_lake(
    sim: SimServer, rt: Runtime, app: str, report: str, form: str, zone: str, date_format: str
) -> None:
    sim_creator(sim, records={f"{app}/{form}": 300})
    summary = run_export(rt, "full", app=app, report=report)
    assert (summary.rows_loaded, summary.rows_rejected, summary.pages) == (300, 0, 1)
    loaded = table(rt, table_for(app, report))
    # the lake table holds the same rows, values and types; the landing files are gone
    assert_lake_equals_warehouse(rt, table_for(app, report))
    assert (rt.settings.data_path / "lake" / "creator" / table_for(app, report)).is_dir()
    assert not list(rt.settings.parquet_root.rglob("*.parquet"))
    prefix = form if form != FORM else "Order"
    parent = "Customer" if app == APP else "Site"
    expected = {
        k.replace("Order_Name", f"{prefix}_Name").replace("Customer", parent): v
        for k, v in EXPECTED_TYPES.items()
    }
    for name, arrow_type in expected.items():
        assert loaded.schema.field(name).type == arrow_type, name
    assert loaded.num_rows == 300
    # values: compare a few records with Get Records JSON parsed by hand
    from engine.creator_source import creator_client

    client = creator_client(rt.connection, rt.ledger, ACCOUNT, rt.settings)
    raw = {
        str(r["ID"]): r
        for page in client.iter_records("jason18", app, report, field_config="detail_view")
        for r in page
    }
    rows = {r["id"]: r for r in loaded.to_pylist()}
    tz = ZoneInfo(zone)
    for record_id in list(raw)[:40]:
        source, row = raw[record_id], rows[record_id]
        assert row["Quantity"] == (int(source["Quantity"]) if source["Quantity"] != "" else None)
        if source["Amount"] != "":
            assert row["Amount"] == Decimal(str(source["Amount"]))
        if source["Due_Date"]:
            assert row["Due_Date"] == dt.datetime.strptime(source["Due_Date"], date_format).date()
        local = dt.datetime.strptime(source["Visit_Time"], date_format + " %H:%M:%S")
        assert row["Visit_Time"] == local.replace(tzinfo=tz).astimezone(dt.UTC)
        assert row["Tags"] == (list(source["Tags"]) or None)
        assert row["Expedited"] is (source["Expedited"] == "true")
        lookup = source[parent]
        assert isinstance(lookup, dict)
        assert row[f"{parent}__display"] == lookup["zc_display_value"]
        assert row["Status"] == (source["Status"] or None)
        assert row["Website"] == (source["Website"] or None)


def test_incremental_picks_up_changes(sim: SimServer, rt: Runtime) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 1_000})
    first = run_export(rt, "incremental")
    assert (first.kind, first.rows_loaded) == ("full", 1_000)
    store = creator.form_store(ORG, APP, FORM)
    sim.state.clock.advance(3600)
    changed = str(store.values.base_id + 10)
    creator.update_record(ORG, APP, FORM, changed, {"Status": "Closed", "Quantity": "4242"})
    added = creator.insert_record(ORG, APP, FORM, {"Order_Name": "New order", "Quantity": "7"})
    second = run_export(rt, "incremental")
    assert (second.kind, second.method) == ("incremental", "rest")
    # the two changes, plus what the 10-minute overlap re-reads before the old watermark
    assert 2 <= second.rows_loaded < 10
    rows = {r["id"]: r for r in table(rt).to_pylist()}
    assert len(rows) == 1_001
    assert str(rows[changed]["_zoho_job_id"]).startswith("rest-")
    assert (rows[changed]["Status"], rows[changed]["Quantity"]) == ("Closed", 4242)
    assert rows[added]["Order_Name"] == "New order"
    watermark = rt.ledger.get_watermark(rt.org, "creator", module_key(APP, REPORT))
    assert watermark is not None
    assert set(watermark.ids) == {changed, added}
    after_second = assert_lake_equals_warehouse(rt)  # merged on id, newest Modified_Time won
    third = run_export(rt, "incremental")  # the overlap re-reads the two; the merge keeps one
    assert third.rows_loaded == 2
    assert table(rt).num_rows == 1_001
    # the re-read rows replaced theirs (same Modified_Time): same values, a later job
    metadata = ["_zoho_job_id", "_extracted_at"]
    again = assert_lake_equals_warehouse(rt).drop_columns(metadata)
    assert again.to_pylist() == after_second.drop_columns(metadata).to_pylist()
    history = open_lake_table(rt.settings, "creator", TABLE).delta_table().history()
    assert [h["zoho_etl_operation"] for h in reversed(history)] == ["append", "merge", "merge"]


def test_values_that_do_not_convert_are_rejected_with_their_id(
    sim: SimServer, rt: Runtime, tmp_path: Path
) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 50})
    bad = creator.insert_record(ORG, APP, FORM, {"Order_Name": "odd", "Due_Date": "31-Foo-2026"})
    summary = run_export(rt, "full")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (51, 50, 1)
    (rejects,) = summary.rejects_paths
    text = Path(rejects).read_text(encoding="utf-8")
    assert bad in text
    assert "Due_Date" in text
    assert "31-Foo-2026" in text


def test_every_field_type_round_trips_to_postgresql(
    sim: SimServer, connection: ZohoConnection, pg_url: str, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{TABLE}"'))
        conn.execute(sa.text("DROP SCHEMA IF EXISTS zoho_etl CASCADE"))
    engine.dispose()
    sim_creator(sim, records={f"{APP}/{FORM}": 200})
    settings = fast_settings(tmp_path / "pg", warehouse_url=pg_url)
    rt = runtime_for(connection, settings)
    try:
        summary = run_export(rt, "full")
        assert (summary.rows_loaded, summary.rows_rejected) == (200, 0)
        loaded = table(rt)
        for name, arrow_type in EXPECTED_TYPES.items():
            assert loaded.schema.field(name).type == arrow_type, name
        assert loaded.num_rows == pc.count_distinct(loaded["id"]).as_py() == 200
        assert any(tags for tags in loaded["Tags"].to_pylist())
        assert_lake_equals_warehouse(rt)
    finally:
        close_runtimes()


def _quantity_as_text(creator: CreatorState) -> None:
    """The Order form's Quantity turns into a text field in the metadata (values unchanged)."""
    from dataclasses import replace

    from simulator.creator.model import SINGLE_LINE

    def form(f: Any) -> Any:
        fields = tuple(replace(x, type=SINGLE_LINE) if x.link_name == "Quantity" else x
                       for x in f.fields)  # fmt: skip
        return replace(f, fields=fields) if f.link_name == FORM else f

    apps = tuple(
        replace(a, forms=tuple(form(f) for f in a.forms)) if a.link_name == APP else a
        for a in creator.config.apps
    )
    creator.configure(apps=apps)


@pytest.mark.parametrize("policy", ["evolve", "freeze"])
def test_a_type_drift_follows_the_drift_policy_in_the_lake(
    sim: SimServer, connection: ZohoConnection, tmp_path: Path, policy: str
) -> None:
    creator = sim_creator(sim, records={f"{APP}/{FORM}": 300})
    rt = runtime_for(connection, fast_settings(tmp_path / "data", drift_policy=policy))
    try:
        run_export(rt, "full")
        lake_table = open_lake_table(rt.settings, "creator", TABLE)
        version, before = lake_table.version, lake(rt)
        _quantity_as_text(creator)
        sim.state.clock.advance(3600)
        changed = str(creator.form_store(ORG, APP, FORM).values.base_id + 3)
        creator.update_record(ORG, APP, FORM, changed, {"Quantity": "77"})
        if policy == "freeze":
            with pytest.raises(SchemaDriftError, match="Quantity"):
                run_export(rt, "incremental")
            assert lake_table.version == version
            assert lake(rt).to_pylist() == before.to_pylist()
            return
        run_export(rt, "incremental")
        mirrored = assert_lake_equals_warehouse(rt)
        assert mirrored.schema.field("Quantity").type == pa.string()
        assert mirrored.filter(pc.equal(mirrored["id"], changed))["Quantity"].to_pylist() == ["77"]
        history = lake_table.delta_table().history()
        assert [h.get("zoho_etl_operation") for h in history].count("widen_columns") == 1
    finally:
        close_runtimes()
