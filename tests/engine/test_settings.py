from __future__ import annotations

import pytest

from engine.errors import MissingCredentialsError, UsageError
from engine.settings import RunSettings, ZohoConnection

URL = "postgresql+psycopg://etl:s3cret-pw@db.internal/warehouse"


def test_warehouse_url_with_a_password_never_shows() -> None:
    settings = RunSettings.from_env(
        {"ZOHO_ETL_WAREHOUSE_URL": URL, "ZOHO_ETL_CREDIT_BUDGET": "5000"}
    )
    assert settings.effective_warehouse_url == URL
    assert settings.credit_budget == 5000
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "s3cret-pw" not in text


def test_default_warehouse_is_a_duckdb_file_in_the_data_dir() -> None:
    settings = RunSettings.from_env({}, data_dir="/tmp/x")
    assert settings.effective_warehouse_url == "duckdb:////tmp/x/warehouse.duckdb"
    assert settings.downloads_per_minute == 10


def test_connection_from_env_names_what_is_missing() -> None:
    with pytest.raises(MissingCredentialsError, match="ZOHO_REFRESH_TOKEN not set"):
        ZohoConnection.from_env({"ZOHO_CLIENT_ID": "1000.X", "ZOHO_CLIENT_SECRET": "s"})
    connection = ZohoConnection.from_env(
        {
            "ZOHO_CLIENT_ID": "1000.X",
            "ZOHO_CLIENT_SECRET": "top",
            "ZOHO_REFRESH_TOKEN": "rt",
            "ZOHO_DC": "eu",
            "ZOHO_ORG_ID": "123",
        }
    )
    assert (connection.data_center, connection.org_id) == ("eu", "123")
    assert "top" not in repr(connection)


def test_lake_settings_from_env_and_storage_options_stay_secret() -> None:
    options = '{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "lake-s3cret"}'
    settings = RunSettings.from_env(
        {
            "ZOHO_ETL_LAKE_URI": "s3://bucket/lake",
            "ZOHO_ETL_LAKE_STORAGE_OPTIONS": options,
            "ZOHO_ETL_KEEP_LANDING_DAYS": "2.5",
        }
    )
    assert settings.lake_root == "s3://bucket/lake"
    assert settings.lake_options()["AWS_SECRET_ACCESS_KEY"] == "lake-s3cret"
    assert settings.keep_landing_days == 2.5
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "lake-s3cret" not in text
    default = RunSettings.from_env({}, data_dir="/tmp/x")
    assert (default.lake_root, default.lake_options(), default.keep_landing_days) == (
        "/tmp/x/lake",
        {},
        None,
    )


def test_storage_options_that_are_not_a_json_object_are_refused_without_echoing_them() -> None:
    settings = RunSettings.from_env({"ZOHO_ETL_LAKE_STORAGE_OPTIONS": "key=lake-s3cret"})
    with pytest.raises(UsageError, match="must be a JSON object") as caught:
        settings.lake_options()
    assert "lake-s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ZOHO_ETL_CREDIT_BUDGET", "abc", "ZOHO_ETL_CREDIT_BUDGET='abc' is not a valid int"),
        ("ZOHO_ETL_CONCURRENCY", "0", "ZOHO_ETL_CONCURRENCY=0: Input should be greater"),
        ("ZOHO_ETL_POLL_INTERVAL", "-1", "ZOHO_ETL_POLL_INTERVAL=-1.0: Input should be greater"),
        ("ZOHO_ETL_DRIFT_POLICY", "loose", "ZOHO_ETL_DRIFT_POLICY='loose': Input should be"),
    ],
)
def test_a_malformed_variable_is_bad_input_naming_it(variable: str, value: str, says: str) -> None:
    with pytest.raises(UsageError) as raised:
        RunSettings.from_env({variable: value})
    assert says in str(raised.value)


def test_a_malformed_flag_is_named_as_the_flag() -> None:
    with pytest.raises(UsageError, match="concurrency=0"):
        RunSettings.from_env({"ZOHO_ETL_CONCURRENCY": "3"}, concurrency=0)
