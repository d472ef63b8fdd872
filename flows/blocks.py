"""Prefect blocks: Zoho credentials and the warehouse location.

``ZohoCredentials`` keeps the client secret and refresh token as ``SecretStr`` (Prefect stores
them encrypted and never shows them in the UI); ``get_client(product)`` builds the connectors'
``ZohoClient`` for CRM or Recruit. ``WarehouseSettings`` holds a SQLAlchemy URL (secret: URLs
carry passwords) and the data directory.

Register them once per Prefect server with ``prefect block register -m flows.blocks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect.blocks.abstract import CredentialsBlock
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from engine.settings import ZohoConnection

if TYPE_CHECKING:
    from connectors.client import ZohoClient


class ZohoCredentials(CredentialsBlock):
    """OAuth credentials and data centre of one Zoho organisation."""

    _block_type_name = "Zoho Credentials"
    _block_type_slug = "zoho-credentials"
    _description = "Client id, client secret and refresh token of a Zoho CRM / Recruit org."

    client_id: str = Field(description="OAuth client id from the Zoho API console.")
    client_secret: SecretStr = Field(description="OAuth client secret.")
    refresh_token: SecretStr = Field(description="OAuth refresh token (never expires).")
    data_center: str = Field(default="us", description="us, eu, in, au, jp, cn, ca, sa or uk.")
    org_id: str = Field(default="default", description="Organisation id (zgid).")
    simulator_url: str | None = Field(
        default=None, description="Point every host at a zoho-etl simulator (testing)."
    )
    host_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Per-service host overrides: accounts, crm_api, upload, download, recruit.",
    )

    def to_connection(self) -> ZohoConnection:
        return ZohoConnection(**_connection_fields(self))

    @classmethod
    def from_connection(cls, connection: ZohoConnection) -> ZohoCredentials:
        return cls(**_connection_fields(connection))

    def get_client(self, product: str = "crm", **kwargs: Any) -> ZohoClient:
        """A connectors ``ZohoClient`` for ``product`` ("crm" or "recruit")."""
        from engine.clients import build_client

        return build_client(self.to_connection(), product, **kwargs)


def _connection_fields(source: ZohoConnection | ZohoCredentials) -> dict[str, Any]:
    """The ``ZohoConnection`` fields of a connection or a credentials block (same names)."""
    return {name: getattr(source, name) for name in ZohoConnection.model_fields}


class WarehouseSettings(Block):
    """Where the warehouse and the Parquet files live."""

    _block_type_name = "Zoho ETL Warehouse"
    _block_type_slug = "zoho-etl-warehouse"
    _description = "SQLAlchemy URL of the warehouse (DuckDB file or PostgreSQL) and data dir."

    url: SecretStr = Field(
        description="SQLAlchemy URL, e.g. duckdb:///data/warehouse.duckdb or "
        "postgresql+psycopg://user:pass@host/db"
    )
    data_dir: str = Field(default="data", description="Downloads, Parquet and rejects root.")
