from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from engine.settings import ZohoConnection
from flows.blocks import WarehouseSettings, ZohoCredentials
from flows.connection import flow_settings, resolve_connection
from simulator.testing import SimServer


def test_credentials_block_round_trip_keeps_secrets_out_of_sight(
    prefect_api: str, sim: SimServer, connection: ZohoConnection, tmp_path: Path
) -> None:
    block = ZohoCredentials.from_connection(connection)
    secret = connection.client_secret.get_secret_value()
    token = connection.refresh_token.get_secret_value()
    for text in (repr(block), str(block), block.model_dump_json()):
        assert secret not in text
        assert token not in text
    block.save("zoho-test-org", overwrite=True)
    loaded = resolve_connection(credentials_block="zoho-test-org")
    assert loaded == connection
    client = ZohoCredentials.load("zoho-test-org").get_client("crm")  # type: ignore[union-attr]
    try:
        names = {f.api_name for f in client.metadata.fields("Leads")}
    finally:
        client.close()
    assert {"Last_Name", "Modified_Time"} <= names

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    WarehouseSettings(url=SecretStr(url), data_dir=str(tmp_path)).save("wh-test", overwrite=True)
    settings = flow_settings(WarehouseSettings.load("wh-test"))  # type: ignore[arg-type]
    assert settings.effective_warehouse_url == url
    assert settings.data_dir == str(tmp_path)
