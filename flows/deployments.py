"""``prefect.yaml``'s deployments, served from one process by ``zoho-etl serve``.

The file is read with Prefect's own model of it (``PrefectYamlModel``, what ``prefect deploy``
validates it with) and each schedule is converted by the function ``prefect deploy`` uses, so
every schedule (cron, interval or rrule, active or not), the parameters, the concurrency limit
and its collision strategy, paused flags, tags and descriptions mean the same thing whether
the deployments run under a worker of the ``zoho-etl`` work pool or under ``zoho-etl serve``.

Credentials are block parameters. The run form's block picker shows a block referenced by
id, so the file's ``build`` step `block_references` turns block slugs into id references
when the deployments are registered (``prefect deploy`` runs it; so does ``zoho-etl serve``),
and the deployments take ``"{{ blocks.zoho_crm }}"``. The blocks must exist by then.

``serve`` runs each flow run in a subprocess of the serving process, which has no work pool:
the pool's ``job_variables.env`` entries are set in that process's environment instead (what
a process worker does per run). Other job variables only mean something to a worker.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.utilities.templating import apply_values
from pydantic import ValidationError

from engine.errors import UsageError

log = logging.getLogger("flows.deployments")


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of ``prefect.yaml``, as ``prefect deploy`` would register it."""

    name: str
    entrypoint: str
    parameters: dict[str, Any]
    schedules: tuple[DeploymentScheduleCreate, ...]
    paused: bool
    concurrency: ConcurrencyLimitConfig | None
    description: str | None
    tags: tuple[str, ...]
    env: dict[str, str]

    def schedule_text(self) -> str:
        """``5 * * * * UTC; 0 6 * * 1-5 UTC (inactive)`` for ``zoho-etl serve --list``."""
        parts = []
        for item in self.schedules:
            schedule = item.schedule
            what = getattr(schedule, "cron", None) or getattr(schedule, "rrule", None)
            if what is None:
                what = f"every {getattr(schedule, 'interval', '?')}"
            timezone = getattr(schedule, "timezone", None)
            text = f"{what} {timezone}" if timezone else str(what)
            parts.append(text if item.active is not False else f"{text} (inactive)")
        return "; ".join(parts) or "-"


def block_references(**blocks: str) -> dict[str, dict[str, Any]]:
    """A ``prefect.yaml`` build step: ``zoho_crm: zoho-credentials/zoho-crm`` (a block slug)
    -> ``{"zoho_crm": {"$ref": {"block_document_id": "..."}}}`` for the deployments' parameters.
    """
    from prefect.client.orchestration import get_client

    references: dict[str, dict[str, Any]] = {}
    with get_client(sync_client=True) as client:
        for name, slug in blocks.items():
            block_type, _, block_name = slug.partition("/")
            try:
                document = client.read_block_document_by_name(
                    block_name, block_type, include_secrets=False
                )
            except Exception:  # not found, or no server: either way the deploy cannot go on
                raise UsageError(
                    f"no block {slug!r} on the Prefect server: create it first "
                    "(README: Real Zoho, step by step)"
                ) from None
            references[name] = {"$ref": {"block_document_id": str(document.id)}}
    return references


def _read_model(path: Path) -> PrefectYamlModel:
    if not path.exists():
        raise UsageError(f"no deployment file at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return PrefectYamlModel.model_validate(raw)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{path}: {where}: {first['msg']}") from None


def run_build_steps(path: Path, specs: list[DeploymentSpec]) -> list[DeploymentSpec]:
    """``specs`` with their parameters templated by the file's build steps' outputs."""
    from prefect.deployments.steps.core import run_steps
    from prefect.utilities.asyncutils import run_coro_as_sync

    build = _read_model(path).build
    steps = build if isinstance(build, list) else []  # the model wraps a single step in a list
    outputs = run_coro_as_sync(run_steps(steps, print_function=log.info)) if steps else {}
    return [replace(s, parameters=apply_values(s.parameters, outputs or {})) for s in specs]


def read_specs(path: Path) -> list[DeploymentSpec]:
    """The deployments listed in a ``prefect.yaml``, validated as ``prefect deploy`` does.

    Parameters are as written (``{{ blocks.zoho_crm }}`` until `run_build_steps`).
    """
    model = _read_model(path)
    specs = []
    for entry in model.deployments:
        config = entry.model_dump(exclude_unset=True, mode="json")
        name, entrypoint = config.get("name"), config.get("entrypoint")
        if not name or not entrypoint:
            raise UsageError(f"{path}: every deployment needs a name and an entrypoint")
        schedules = tuple(
            DeploymentScheduleCreate(**_schedule_config_to_deployment_schedule(s))
            for s in config.get("schedules") or []
        )
        pool = config.get("work_pool") or {}
        env = (pool.get("job_variables") or {}).get("env") or {}
        specs.append(
            DeploymentSpec(
                name=str(name),
                entrypoint=str(entrypoint),
                parameters=dict(config.get("parameters") or {}),
                schedules=schedules,
                paused=bool(config.get("paused", False)),
                concurrency=_concurrency(config.get("concurrency_limit")),
                description=config.get("description"),
                tags=tuple(str(t) for t in config.get("tags") or ()),
                env={str(k): str(v) for k, v in env.items()},
            )
        )
    return specs


def _concurrency(value: Any) -> ConcurrencyLimitConfig | None:
    """``concurrency_limit: 1`` or ``{limit: 1, collision_strategy: CANCEL_NEW}``."""
    if value is None:
        return None
    if isinstance(value, int):
        return ConcurrencyLimitConfig(limit=value)
    strategy = value.get("collision_strategy")
    return ConcurrencyLimitConfig(
        limit=value["limit"],
        collision_strategy=ConcurrencyLimitStrategy(strategy)
        if strategy
        else ConcurrencyLimitStrategy.ENQUEUE,
    )


def load_flow(entrypoint: str) -> Any:
    """``flows/export.py:export_flow`` -> the flow object."""
    path, _, attribute = entrypoint.partition(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    if not module_name.startswith("flows.") or not attribute:
        raise UsageError(f"entrypoint {entrypoint!r} is not a flow in the flows package")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def to_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """``RunnerDeployment`` objects for ``prefect.serve`` (``flow.to_deployment``)."""
    deployments = []
    for spec in specs:
        flow = load_flow(spec.entrypoint)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                parameters=spec.parameters,
                schedules=list(spec.schedules),
                paused=spec.paused,
                concurrency_limit=spec.concurrency,
                description=spec.description,
                tags=list(spec.tags),
            )
        )
    return deployments


def apply_job_env(specs: list[DeploymentSpec], environ: MutableMapping[str, str]) -> None:
    """Set the deployments' ``job_variables.env`` in ``environ`` (refusing contradictions)."""
    merged: dict[str, str] = {}
    for spec in specs:
        for key, value in spec.env.items():
            if merged.setdefault(key, value) != value:
                raise UsageError(
                    f"deployments disagree on job variable env.{key} ({merged[key]!r} vs "
                    f"{value!r}); one `zoho-etl serve` process has one environment"
                )
    environ.update(merged)


def serve_file(path: Path) -> None:
    """Serve every deployment of ``path`` from this process (blocks until Ctrl-C)."""
    from prefect import serve

    specs = run_build_steps(path, read_specs(path))
    apply_job_env(specs, os.environ)
    serve(*to_deployments(specs))
