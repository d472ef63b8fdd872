"""Build connectors clients from flow settings: where credentials come from, how hosts resolve.

Order of precedence for credentials: ``--simulator URL`` (the simulated org's fake
credentials), a named ``ZohoCredentials`` Prefect block, then ``ZOHO_*`` environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from connectors.auth import OAuthCredentials
from connectors.bulk_read import PollPolicy
from connectors.client import ZohoClient
from connectors.datacenters import Endpoints
from connectors.retry import RetryPolicy
from flows.errors import MissingCredentialsError, UsageError
from flows.settings import RunSettings, ZohoConnection

#: Each status poll waits twice as long as the one before (see `RunSettings.poll_interval_s`).
POLL_BACKOFF = 2.0


def resolve_connection(
    *,
    simulator_url: str | None = None,
    sim_org: str | None = None,
    credentials_block: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ZohoConnection:
    """The Zoho connection a command or flow should use (see module docstring)."""
    env = os.environ if env is None else env
    if simulator_url:
        from flows.simulated import DEFAULT_SIM_ORG, simulated_connection

        return simulated_connection(simulator_url, sim_org or DEFAULT_SIM_ORG)
    if credentials_block:
        from flows.blocks import ZohoCredentials

        try:
            block = ZohoCredentials.load(credentials_block)
        except ValueError:
            raise MissingCredentialsError(
                ("ZohoCredentials block",), f"no block named {credentials_block!r}"
            ) from None
        return block.to_connection()  # type: ignore[union-attr]
    return ZohoConnection.from_env(env)


def resolve_settings(
    settings: RunSettings | None, warehouse_block: str | None = None
) -> RunSettings:
    """Run settings, with the warehouse URL and data dir of a ``WarehouseSettings`` block.

    URLs with passwords belong in the block (stored encrypted), not in flow parameters,
    which the Prefect UI shows.
    """
    settings = settings or RunSettings.from_env()
    if not warehouse_block:
        return settings
    from flows.blocks import WarehouseSettings

    try:
        block = WarehouseSettings.load(warehouse_block)
    except ValueError:
        raise UsageError(f"no WarehouseSettings block named {warehouse_block!r}") from None
    return settings.model_copy(
        update={
            "warehouse_url": block.url,  # type: ignore[union-attr]
            "data_dir": block.data_dir,  # type: ignore[union-attr]
        }
    )


def endpoints_for(connection: ZohoConnection) -> Endpoints:
    if connection.simulator_url:
        return Endpoints.for_simulator(connection.simulator_url, connection.data_center)
    return Endpoints.for_dc(connection.data_center, overrides=connection.host_overrides)


def build_client(
    connection: ZohoConnection,
    product: str,
    *,
    settings: RunSettings | None = None,
    **kwargs: Any,
) -> ZohoClient:
    """A ``ZohoClient`` for one org and product; poll intervals come from ``settings``."""
    settings = settings or RunSettings()
    credentials = OAuthCredentials(
        client_id=connection.client_id,  # type: ignore[arg-type]
        client_secret=connection.client_secret,
        refresh_token=connection.refresh_token,
    )
    kwargs.setdefault(
        "poll",
        PollPolicy(
            initial=settings.poll_interval_s,
            factor=POLL_BACKOFF,
            max_interval=settings.poll_max_interval_s,
        ),
    )
    # Downloads check the zip's structure; the load checks the CRC as it reads every byte
    # (one inflate pass instead of two) and `flows.pages` downloads a damaged page again.
    kwargs.setdefault("verify_crc", False)
    if connection.simulator_url:
        # The simulator answers in milliseconds; back off briefly on its injected faults.
        kwargs.setdefault("retry", RetryPolicy(initial_wait=0.05, max_wait=1.0, jitter=0.05))
    return ZohoClient.for_product(
        product,
        credentials,
        dc=connection.data_center,
        endpoints=endpoints_for(connection),
        org_id=connection.org_id,
        **kwargs,
    )
