"""``prefect.yaml``'s deployments, served from one process by ``zoho-etl serve``.

Reads the same file ``prefect deploy`` uses and turns each entry into a
``RunnerDeployment`` (flow, parameters, cron schedule, paused flag, tags), so the schedules
live in one place whichever way they are run.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.errors import UsageError


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str
    parameters: dict[str, Any]
    cron: str | None
    timezone: str | None
    paused: bool
    description: str | None
    tags: tuple[str, ...]


def read_specs(path: Path) -> list[DeploymentSpec]:
    """The deployments listed in a ``prefect.yaml``."""
    if not path.exists():
        raise UsageError(f"no deployment file at {path}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None
    specs = []
    for entry in document.get("deployments") or []:
        schedules = entry.get("schedules") or []
        first = schedules[0] if schedules else {}
        inactive = bool(schedules) and all(s.get("active") is False for s in schedules)
        specs.append(
            DeploymentSpec(
                name=str(entry["name"]),
                entrypoint=str(entry["entrypoint"]),
                parameters=dict(entry.get("parameters") or {}),
                cron=first.get("cron"),
                timezone=first.get("timezone"),
                paused=bool(entry.get("paused", False)) or inactive,
                description=entry.get("description"),
                tags=tuple(entry.get("tags") or ()),
            )
        )
    return specs


def load_flow(entrypoint: str) -> Any:
    """``flows/export.py:export_flow`` -> the flow object."""
    path, _, attribute = entrypoint.partition(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    if not module_name.startswith("flows.") or not attribute:
        raise UsageError(f"entrypoint {entrypoint!r} is not a flow in the flows package")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def to_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """``RunnerDeployment`` objects for ``prefect.serve``."""
    deployments = []
    for spec in specs:
        flow = load_flow(spec.entrypoint)
        kwargs: dict[str, Any] = {
            "name": spec.name,
            "parameters": spec.parameters,
            "paused": spec.paused,
            "tags": list(spec.tags),
        }
        if spec.description:
            kwargs["description"] = spec.description
        if spec.cron:
            from prefect.schedules import Cron

            kwargs["schedule"] = Cron(spec.cron, timezone=spec.timezone or "UTC")
        deployments.append(flow.to_deployment(**kwargs))
    return deployments


def serve_file(path: Path) -> None:
    """Serve every deployment of ``path`` from this process (blocks until Ctrl-C)."""
    from prefect import serve

    serve(*to_deployments(read_specs(path)))
