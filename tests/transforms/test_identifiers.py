from __future__ import annotations

import pytest

from transforms.errors import InvalidIdentifierError
from transforms.identifiers import (
    quote,
    validate_api_name,
    validate_column_name,
    validate_internal_name,
    validate_path_token,
)


@pytest.mark.parametrize("name", ["id", "Last_Name", "Appointments__s", "A1", "x" * 63])
def test_zoho_api_names_pass(name: str) -> None:
    assert validate_api_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "_hidden", "1abc", "a-b", "a b", 'a"b', "a;b", "é", "x" * 64, "a.b"]
)
def test_anything_else_is_refused(name: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        validate_api_name(name)


def test_metadata_columns_are_the_only_underscore_columns() -> None:
    assert validate_column_name("_zoho_deleted_at") == "_zoho_deleted_at"
    with pytest.raises(InvalidIdentifierError):
        validate_column_name("_other")


def test_internal_names_are_lower_case_underscore_names() -> None:
    assert validate_internal_name("_stg_crm_leads_0a1b") == "_stg_crm_leads_0a1b"
    with pytest.raises(InvalidIdentifierError):
        validate_internal_name("_stg_Crm")


@pytest.mark.parametrize("value", ["../x", "a/b", "a.b", "", "a=b"])
def test_path_tokens_cannot_escape_their_directory(value: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        validate_path_token(value, "job id")


def test_quote_refuses_quotes_even_if_validation_was_skipped() -> None:
    assert quote("Name") == '"Name"'
    with pytest.raises(InvalidIdentifierError):
        quote('a"b')
