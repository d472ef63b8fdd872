"""What one process needs to run flows for one org: clients, ledger, warehouse and budget.

Every client's credit meter is observed by the ledger (``engine.credit_ledger``): each call is
reserved against the org's budget before it is sent and charged to the job it works on.

Built from two picklable values (``ZohoConnection`` + ``RunSettings``), so Prefect tasks can
receive those as parameters and get the same ``Runtime`` back with ``runtime_for(...)`` in
whatever process or thread they run (thread pool or Dask worker). One runtime per
(connection, settings) per process, shared by threads.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from connectors.credits import CallType
from engine.budget import CreditBudget
from engine.callbacks import CallbackReceiver
from engine.credit_ledger import LedgerCreditObserver, charged_to, prepaid
from engine.ledger import Ledger
from engine.settings import RunSettings, ZohoConnection

if TYPE_CHECKING:
    from connectors.client import ZohoClient
    from connectors.fields import FieldSpec
    from transforms.warehouse import Warehouse

log = logging.getLogger("engine.runtime")


class DownloadPacer:
    """At most ``per_minute`` result downloads in any 60 s, across this process's threads.

    Zoho answers the 11th download of a minute with 429 and blocks until the minute passes;
    waiting for a free slot here is cheaper than backing off after the refusal.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= 60.0:
                    self._starts.popleft()
                if len(self._starts) < self.per_minute:
                    self._starts.append(now)
                    return waited
                pause = 60.0 - (now - self._starts[0]) + 0.01
            log.info("pacing bulk-read downloads: waiting %.1f s for a free slot", pause)
            sleep(pause)
            waited += pause


@dataclass
class Runtime:
    connection: ZohoConnection
    settings: RunSettings
    ledger: Ledger
    warehouse: Warehouse
    budget: CreditBudget
    _clients: dict[str, ZohoClient] = field(default_factory=dict)
    _fields: dict[tuple[str, str], tuple[FieldSpec, ...]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: DuckDB connections are not shared between threads: loads take turns.
    load_lock: threading.Lock = field(default_factory=threading.Lock)
    downloads: DownloadPacer = field(default_factory=lambda: DownloadPacer(10))
    #: Zoho's bulk-read callbacks, when ``settings.callback_listen`` is set
    callbacks: CallbackReceiver | None = None

    @property
    def org(self) -> str:
        return self.connection.org_id

    def client(self, product: str) -> ZohoClient:
        with self._lock:
            if product not in self._clients:
                from engine.clients import build_client

                observer = LedgerCreditObserver(self.ledger, self.org, self.budget, product)
                self._clients[product] = build_client(
                    self.connection, product, settings=self.settings, observer=observer
                )
            return self._clients[product]

    @contextmanager
    def prepaid(self, product: str, call_type: CallType, calls: int, what: str) -> Iterator[None]:
        """Reserve ``calls`` calls of ``call_type`` up front (``engine.credit_ledger.prepaid``):
        the budget refuses all of them or none."""
        each = self.client(product).product.credit_costs[call_type]
        with prepaid(
            self.budget, self.ledger, self.org, call_type, calls=calls, credits_each=each, what=what
        ):
            yield

    def fields(self, product: str, module: str) -> tuple[FieldSpec, ...]:
        """The module's field metadata, fetched once per runtime (1 credit, not a page's)."""
        key = (product, module)
        with self._lock:
            cached = self._fields.get(key)
        if cached is not None:
            return cached
        with charged_to(None, f"field metadata {product} {module}"):
            specs = tuple(self.client(product).metadata.fields(module))
        with self._lock:
            self._fields[key] = specs
        return specs

    def forget_fields(self, product: str, module: str) -> None:
        """Drop cached metadata (after schema drift)."""
        with self._lock:
            self._fields.pop((product, module), None)
        client = self._clients.get(product)
        if client is not None:
            client.metadata.clear_cache()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self.ledger.engine.dispose()
        self.warehouse.close()
        if self.callbacks is not None:
            self.callbacks.close()


_RUNTIMES: dict[str, Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _key(connection: ZohoConnection, settings: RunSettings) -> str:
    # SecretStr fields dump masked, so the secrets that tell runtimes apart are added, but
    # only as a digest: the cache key must not keep them in plain text.
    material = "\0".join(
        (
            connection.model_dump_json(),
            connection.client_secret.get_secret_value(),
            connection.refresh_token.get_secret_value(),
            settings.model_dump_json(),
            settings.effective_warehouse_url,
        )
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def runtime_for(connection: ZohoConnection, settings: RunSettings) -> Runtime:
    """This process's runtime for the connection and settings (created on first use)."""
    key = _key(connection, settings)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = open_runtime(connection, settings)
            _RUNTIMES[key] = runtime
        return runtime


def close_runtimes() -> None:
    """Close every cached runtime (end of a CLI command, test teardown)."""
    with _RUNTIMES_LOCK:
        runtimes = list(_RUNTIMES.values())
        _RUNTIMES.clear()
    for runtime in runtimes:
        runtime.close()


def open_runtime(connection: ZohoConnection, settings: RunSettings) -> Runtime:
    from transforms import open_warehouse

    settings.data_path.mkdir(parents=True, exist_ok=True)
    warehouse = open_warehouse(settings.effective_warehouse_url)
    ledger = Ledger(ledger_engine(warehouse, settings.effective_warehouse_url))
    ledger.create_schema()
    budget = CreditBudget(ledger, connection.org_id, settings.credit_budget)
    callbacks = None
    if settings.callback_listen:
        callbacks = CallbackReceiver(settings.callback_listen, settings.callback_url)
    return Runtime(
        connection,
        settings,
        ledger,
        warehouse,
        budget,
        downloads=DownloadPacer(settings.downloads_per_minute),
        callbacks=callbacks,
    )


def ledger_engine(warehouse: Any, url: str) -> sa.Engine:
    """An engine on the warehouse's database for the ledger.

    DuckDB allows one configuration per file and process, so on DuckDB the ledger borrows
    cursors of the warehouse's own connection; elsewhere it opens its own engine.
    """
    engine = getattr(warehouse, "engine", None)
    if isinstance(engine, sa.Engine):
        return engine
    if getattr(warehouse, "dialect", None) == "duckdb":
        from duckdb_engine import ConnectionWrapper

        connection = warehouse.connection
        return sa.create_engine("duckdb://", creator=lambda: ConnectionWrapper(connection.cursor()))
    return sa.create_engine(url)
