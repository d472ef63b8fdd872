"""Connectors clients for one org and product, built from a ``ZohoConnection`` and the
run settings (poll intervals, retry policy for the simulator).
"""

from __future__ import annotations

from typing import Any

from connectors.auth import OAuthCredentials
from connectors.bulk_read import PollPolicy
from connectors.client import ZohoClient
from connectors.datacenters import Endpoints
from connectors.retry import RetryPolicy
from engine.cancel import cancellable_sleep
from engine.settings import RunSettings, ZohoConnection

#: Each status poll waits twice as long as the one before (see `RunSettings.poll_interval_s`).
POLL_BACKOFF = 2.0


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
            sleep=cancellable_sleep,
        ),
    )
    # Downloads check the zip's structure; the load checks the CRC as it reads every byte
    # (one inflate pass instead of two) and `engine.pages` downloads a damaged page again.
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
