"""Connection resolution, once per run: which Zoho org and credentials, which warehouse.

Order of precedence for credentials in the CLI: ``--simulator URL`` (the simulated org's fake
credentials), a named ``ZohoCredentials`` Prefect block, then ``ZOHO_*`` environment variables.

Inside a flow run (`flow_connection`, `flow_settings`): the flow's ``credentials`` /
``warehouse`` block parameters, then what the caller set with `run_overrides` (the CLI, the
demo and the tests: a simulator connection, the full `RunSettings`), then the environment.
Deployments expose only the block parameters; everything else is the worker's environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import MissingCredentialsError
from engine.settings import RunSettings, ZohoConnection

if TYPE_CHECKING:
    from flows.blocks import WarehouseSettings, ZohoCredentials


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
        from engine.simulated import DEFAULT_SIM_ORG, simulated_connection

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


@dataclass(frozen=True)
class RunOverrides:
    """What an in-process caller gives a flow besides its (deployment) parameters."""

    settings: RunSettings | None = None
    connection: ZohoConnection | None = None


_OVERRIDES: ContextVar[RunOverrides | None] = ContextVar("zoho_etl_run_overrides", default=None)


@contextmanager
def run_overrides(
    *, settings: RunSettings | None = None, connection: ZohoConnection | None = None
) -> Iterator[None]:
    """Flows called inside this block use ``settings`` / ``connection`` (see module doc)."""
    token = _OVERRIDES.set(RunOverrides(settings=settings, connection=connection))
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def flow_connection(credentials: ZohoCredentials | None) -> ZohoConnection:
    """The connection of a flow run: its block parameter, the caller's, or ``ZOHO_*``."""
    if credentials is not None:
        return credentials.to_connection()
    overrides = _OVERRIDES.get()
    if overrides is not None and overrides.connection is not None:
        return overrides.connection
    return ZohoConnection.from_env()


def flow_settings(warehouse: WarehouseSettings | None) -> RunSettings:
    """The settings of a flow run: the caller's or ``ZOHO_ETL_*``, then the warehouse block."""
    overrides = _OVERRIDES.get()
    settings = (overrides.settings if overrides else None) or RunSettings.from_env()
    if warehouse is None:
        return settings
    return settings.model_copy(
        update={"warehouse_url": warehouse.url, "data_dir": warehouse.data_dir}
    )
