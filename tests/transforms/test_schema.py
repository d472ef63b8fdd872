from __future__ import annotations

import pyarrow as pa
import pytest

from connectors.fields import FieldSpec
from transforms.errors import CsvFormatError, InvalidIdentifierError
from transforms.schema import (
    METADATA_FIELDS,
    UTC_TIMESTAMP,
    arrow_type_for,
    build_page_schema,
    column_name_for,
)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (FieldSpec("Owner", "ownerlookup"), pa.string()),
        (FieldSpec("Account_Name", "lookup"), pa.string()),
        (FieldSpec("Created_By", "userlookup"), pa.string()),
        (FieldSpec("Score", "integer"), pa.int64()),
        (FieldSpec("Big", "bigint"), pa.decimal128(19, 0)),
        (FieldSpec("Amount", "currency", length=16, decimal_place=2), pa.decimal128(18, 2)),
        (FieldSpec("Rate", "percent", decimal_place=3), pa.decimal128(38, 3)),
        (FieldSpec("Budget", "double"), pa.float64()),
        (FieldSpec("Price", "decimal", length=40, decimal_place=2), pa.decimal128(38, 2)),
        (FieldSpec("Active", "boolean"), pa.bool_()),
        (FieldSpec("Closing_Date", "date"), pa.date32()),
        (FieldSpec("Modified_Time", "datetime"), UTC_TIMESTAMP),
        (FieldSpec("Tags", "multiselectpicklist"), pa.list_(pa.string())),
        (FieldSpec("Skills", "multiselectlookup"), pa.list_(pa.string())),
        (FieldSpec("Name", "text"), pa.string()),
        (FieldSpec("Stage", "picklist"), pa.string()),
        (FieldSpec("Email", "email"), pa.string()),
        (FieldSpec("Notes", "textarea"), pa.string()),
        (FieldSpec("Whatever", "some_future_type"), pa.string()),
    ],
)
def test_every_zoho_type_maps_to_its_arrow_type(field: FieldSpec, expected: pa.DataType) -> None:
    assert arrow_type_for(field) == expected


def test_dotted_lookup_columns_get_readable_names() -> None:
    assert column_name_for("Account_Name.Account_Name") == "Account_Name__Account_Name"
    assert column_name_for("Owner.last_name") == "Owner__last_name"
    assert column_name_for("Last_Name") == "Last_Name"


@pytest.mark.parametrize(
    "header", ["$converted", "Name; DROP TABLE x", 'a"b', "1st", "a.", "x" * 64]
)
def test_headers_that_are_not_api_names_are_refused(header: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        column_name_for(header)
    assert "Zoho API names" in str(info.value)


def test_page_schema_types_known_fields_and_adds_metadata_columns() -> None:
    fields = [
        FieldSpec("Amount", "currency", decimal_place=2),
        FieldSpec("Tags", "multiselectpicklist"),
    ]
    header = ["id", "Amount", "Tags", "Account_Name.Account_Name", "Mystery"]
    schema = build_page_schema(header, fields)
    arrow = schema.arrow_schema
    assert arrow.names == [
        "id",
        "Amount",
        "Tags",
        "Account_Name__Account_Name",
        "Mystery",
        "_zoho_module",
        "_zoho_job_id",
        "_extracted_at",
    ]
    assert arrow.field("id").type == pa.string()
    assert arrow.field("Amount").type == pa.decimal128(38, 2)
    assert arrow.field("Account_Name__Account_Name").type == pa.string()
    assert schema.unknown_headers == ("Mystery",)
    assert schema.column("Account_Name__Account_Name").source == "Account_Name.Account_Name"
    assert tuple(arrow)[-3:] == METADATA_FIELDS


def test_a_dotted_column_can_be_typed_by_passing_its_spec() -> None:
    fields = [FieldSpec("Account_Name.Annual_Revenue", "currency", decimal_place=2)]
    schema = build_page_schema(["id", "Account_Name.Annual_Revenue"], fields)
    assert schema.column("Account_Name__Annual_Revenue").arrow_type == pa.decimal128(38, 2)


def test_header_without_id_is_a_format_error() -> None:
    with pytest.raises(CsvFormatError, match="no 'id' column"):
        build_page_schema(["Name"], [])


def test_two_headers_mapping_to_one_column_are_refused() -> None:
    with pytest.raises(InvalidIdentifierError, match="maps to"):
        build_page_schema(["id", "A__B", "A.B"], [])
