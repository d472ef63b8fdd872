"""Glue to the embedded simulator: its configuration and the credentials of a simulated org.

``flows`` may import ``simulator`` (the CLI serves it and the demo runs against it); the
simulator never imports ``flows``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import SecretStr

from engine.errors import UsageError
from engine.settings import ZohoConnection

if TYPE_CHECKING:
    from simulator.config import SimConfig

DEFAULT_SIM_ORG = "us-enterprise"


def sim_config(
    *,
    records: int | None = None,
    per_page: int | None = None,
    seed: int | None = None,
    job_seconds: tuple[float, float] | None = None,
    modules: tuple[str, ...] | None = None,
    downloads_per_minute: int | None = None,
) -> SimConfig:
    """A ``SimConfig`` with the given overrides (``records`` applies to every module)."""
    from simulator.config import SimConfig

    config = SimConfig()
    changes: dict[str, object] = {}
    if records is not None:
        names = modules if modules is not None else tuple(config.records)
        changes["records"] = {name: records for name in names}
    if per_page is not None:
        changes["per_page"] = per_page
    if seed is not None:
        changes["seed"] = seed
    if job_seconds is not None:
        changes["job_seconds"] = job_seconds
    if downloads_per_minute is not None:
        changes["downloads_per_minute"] = downloads_per_minute
    return replace(config, **changes)  # type: ignore[arg-type]


def simulated_connection(base_url: str, org_key: str = DEFAULT_SIM_ORG) -> ZohoConnection:
    """Connection settings for one of the simulator's default (obviously fake) orgs."""
    from simulator.config import DEFAULT_ORGS

    orgs = {org.key: org for org in DEFAULT_ORGS}
    if org_key not in orgs:
        raise UsageError(f"unknown simulated org {org_key!r}; choose one of: {', '.join(orgs)}")
    org = orgs[org_key]
    return ZohoConnection(
        client_id=org.client_id,
        client_secret=SecretStr(org.client_secret),
        refresh_token=SecretStr(org.refresh_token),
        data_center=org.dc,
        org_id=org.zgid,
        simulator_url=base_url.rstrip("/"),
    )
