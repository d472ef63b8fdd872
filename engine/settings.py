"""Typed run settings and Zoho connection settings, read from the environment at the edges.

Only the CLI, flow entry points and blocks call the ``from_env`` constructors; library code
takes these values as arguments. Precedence of each setting: an explicit value (a CLI flag,
given as a keyword to ``from_env``; ``None`` means "not given") > the environment variable >
the default below. The CLI never passes its own defaults, so it never hides a variable.

Environment variables:

==============================  ==========================================================
``ZOHO_CLIENT_ID``              OAuth client id
``ZOHO_CLIENT_SECRET``          OAuth client secret (secret)
``ZOHO_REFRESH_TOKEN``          OAuth refresh token (secret)
``ZOHO_DC``                     data centre: us eu in au jp cn ca sa uk (default us)
``ZOHO_ORG_ID``                 organisation id (zgid); used as the ledger's org key
``ZOHO_SIMULATOR_URL``          point every host at a simulator (``http://127.0.0.1:8765``)
``ZOHO_ETL_DATA_DIR``           where downloads, Parquet and the DuckDB file go (./data)
``ZOHO_ETL_WAREHOUSE_URL``      SQLAlchemy URL (default DuckDB file under the data dir)
``ZOHO_ETL_CREDIT_BUDGET``      daily credit budget per org across all flows (unset: none)
``ZOHO_ETL_CONCURRENCY``        modules / windows run at once (default 4)
``ZOHO_ETL_POLL_INTERVAL``      first bulk-job poll interval in seconds (default 5, doubling)
``ZOHO_ETL_DOWNLOADS_PER_MINUTE``  result downloads per minute (Zoho: 10, the default)
``ZOHO_ETL_CALLBACK_LISTEN``    receive bulk-read callbacks on this HOST:PORT (unset: poll)
``ZOHO_ETL_CALLBACK_URL``       the callback URL Zoho is given (default: the listen address)
``ZOHO_ETL_ACTIVE_BULK_JOBS``   bulk jobs one full export runs at once (default 3; 1: serial)
``ZOHO_ETL_LAKE_URI``           where the Delta tables go: a path or a delta-rs URI
                                (``s3://``, ``az://``, ``gs://``; default ``{data dir}/lake``)
``ZOHO_ETL_LAKE_STORAGE_OPTIONS``  JSON object of delta-rs storage options (secret)
``ZOHO_ETL_KEEP_LANDING_DAYS``  keep the per-page landing Parquet this many days (unset:
                                removed once the page is in the lake)
==============================  ==========================================================
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.datacenters import DATA_CENTERS
from engine.errors import MissingCredentialsError, UsageError

TaskRunnerKind = Literal["threads", "dask"]


class ZohoConnection(BaseModel):
    """Everything needed to talk to one Zoho organisation. Secrets are ``SecretStr``."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    data_center: str = "us"
    org_id: str = "default"
    simulator_url: str | None = None
    host_overrides: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ZohoConnection:
        env = os.environ if env is None else env
        required = ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN")
        missing = tuple(name for name in required if not env.get(name))
        if missing:
            raise MissingCredentialsError(missing, "environment")
        data_center = env.get("ZOHO_DC") or "us"
        if data_center.lower() not in DATA_CENTERS:
            raise UsageError(
                f"ZOHO_DC {data_center!r}: unknown Zoho data centre; "
                f"choose one of: {' '.join(DATA_CENTERS)}"
            )
        return cls(
            client_id=env["ZOHO_CLIENT_ID"],
            client_secret=SecretStr(env["ZOHO_CLIENT_SECRET"]),
            refresh_token=SecretStr(env["ZOHO_REFRESH_TOKEN"]),
            data_center=data_center.lower(),
            org_id=env.get("ZOHO_ORG_ID", "default"),
            simulator_url=env.get("ZOHO_SIMULATOR_URL") or None,
        )


#: ``RunSettings`` fields read from the environment: (variable, field, conversion).
_ENV_SETTINGS: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("ZOHO_ETL_DATA_DIR", "data_dir", str),
    ("ZOHO_ETL_WAREHOUSE_URL", "warehouse_url", str),
    ("ZOHO_ETL_CREDIT_BUDGET", "credit_budget", int),
    ("ZOHO_ETL_CONCURRENCY", "concurrency", int),
    ("ZOHO_ETL_DOWNLOADS_PER_MINUTE", "downloads_per_minute", int),
    ("ZOHO_ETL_CALLBACK_LISTEN", "callback_listen", str),
    ("ZOHO_ETL_CALLBACK_URL", "callback_url", str),
    ("ZOHO_ETL_ACTIVE_BULK_JOBS", "active_bulk_jobs", int),
    ("ZOHO_ETL_LAKE_URI", "lake_uri", str),
    ("ZOHO_ETL_LAKE_STORAGE_OPTIONS", "lake_storage_options", str),
    ("ZOHO_ETL_KEEP_LANDING_DAYS", "keep_landing_days", float),
    ("ZOHO_ETL_LAKE_DELETION_VECTORS", "lake_deletion_vectors", str),
    ("ZOHO_ETL_DRIFT_POLICY", "drift_policy", str),
)


def _converted(name: str, text: str, convert: Callable[[str], object]) -> object:
    try:
        return convert(text)
    except ValueError:
        kind = getattr(convert, "__name__", "value")
        raise UsageError(f"{name}={text!r} is not a valid {kind}") from None


class RunSettings(BaseModel):
    """Where data goes and how much of the machine / the org's credits a run may use."""

    model_config = ConfigDict(frozen=True)

    data_dir: str = "data"
    #: secret: a PostgreSQL URL may carry a password, and flow parameters show in the UI
    warehouse_url: SecretStr | None = None
    credit_budget: int | None = Field(default=None, ge=0)
    concurrency: int = Field(default=4, ge=1, le=25)
    task_runner: TaskRunnerKind = "threads"
    dask_address: str | None = None
    drift_policy: Literal["evolve", "freeze"] = "evolve"
    #: Bulk-job status polls: the first after ``poll_interval_s``, then doubling up to the cap.
    #: Every status call costs a credit and Zoho's bulk jobs take tens of seconds to minutes,
    #: so a 120 s job costs 5 polls (5, 15, 35, 75, 135 s) instead of 11 with 1 s x 1.5; later
    #: pages first wait for the job time seen on earlier pages (``engine.page_wait``).
    poll_interval_s: float = Field(default=5.0, gt=0)
    poll_max_interval_s: float = Field(default=60.0, gt=0)
    #: Zoho serves at most 10 bulk-read result downloads a minute per org (then 429).
    downloads_per_minute: int = Field(default=10, ge=1)
    #: Receive Zoho's bulk-read callbacks on this local ``HOST:PORT`` (`engine.callbacks`):
    #: a page's wait ends when its job does, with one status call. Unset: poll only.
    callback_listen: str | None = None
    #: the URL Zoho is given, when it differs from the listen address (a proxy, a tunnel)
    callback_url: str | None = None
    #: with callbacks on, how long a page waits for its callback before polling as usual
    callback_fallback_s: float = Field(default=600.0, gt=0)
    #: Bulk-read jobs a full export runs at once, one per ``Created_Time`` window
    #: (``engine.windows``). Zoho limits an org's active bulk jobs (the limit is not
    #: documented; the simulator models 3 to 20 by edition): 3 fits every edition. 1 reads the
    #: pages one after another.
    active_bulk_jobs: int = Field(default=3, ge=1, le=50)
    #: the lake's root (`engine.lake`): a local path or any URI delta-rs supports; unset:
    #: ``{data_dir}/lake``
    lake_uri: str | None = None
    #: delta-rs storage options as a JSON object (cloud credentials: secret)
    lake_storage_options: SecretStr | None = None
    #: keep each page's landing Parquet this many days; ``None``: removed once in the lake
    keep_landing_days: float | None = Field(default=None, ge=0)
    #: merges mark replaced rows in deletion vectors instead of rewriting the files that
    #: held them (`transforms.lake.local_merge`); readers must apply deletion vectors
    lake_deletion_vectors: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> RunSettings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        source: dict[str, str] = {}  # field -> the variable it came from, for errors
        for name, key, convert in _ENV_SETTINGS:
            if env.get(name):
                values[key], source[key] = _converted(name, env[name], convert), name
        if env.get("ZOHO_ETL_POLL_INTERVAL"):
            text = env["ZOHO_ETL_POLL_INTERVAL"]
            interval = float(str(_converted("ZOHO_ETL_POLL_INTERVAL", text, float)))
            values["poll_interval_s"] = interval
            values["poll_max_interval_s"] = max(interval * 4, 0.1)
            source["poll_interval_s"] = source["poll_max_interval_s"] = "ZOHO_ETL_POLL_INTERVAL"
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(given)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            error = exc.errors()[0]
            key = str(error["loc"][0]) if error["loc"] else "?"
            where = source.get(key) if key not in given else None
            named = where or key.replace("_", "-")
            raise UsageError(f"{named}={values.get(key)!r}: {error['msg']}") from None

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def downloads_dir(self) -> Path:
        return self.data_path / "downloads"

    @property
    def parquet_root(self) -> Path:
        return self.data_path / "parquet"

    @property
    def rejects_root(self) -> Path:
        return self.data_path / "rejects"

    @property
    def lake_root(self) -> str:
        return self.lake_uri or str(self.data_path / "lake")

    def lake_options(self) -> dict[str, str]:
        """``lake_storage_options`` as a dict (a clear error when it is not a JSON object)."""
        text = self.lake_storage_options.get_secret_value() if self.lake_storage_options else ""
        if not text.strip():
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise UsageError("ZOHO_ETL_LAKE_STORAGE_OPTIONS must be a JSON object of strings")
        return {str(k): str(v) for k, v in value.items()}

    @property
    def effective_warehouse_url(self) -> str:
        if self.warehouse_url is not None and self.warehouse_url.get_secret_value():
            return self.warehouse_url.get_secret_value()
        return f"duckdb:///{(self.data_path / 'warehouse.duckdb').resolve()}"
