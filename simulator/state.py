"""``SimState``: everything the simulated Zoho knows, and the admin operations on it.

One instance backs one server: orgs and their tokens, the record stores and schemas of every
org/product/module, bulk read jobs and page tokens, bulk write jobs (``write_jobs``), uploaded
files (``uploads``), Creator (``creator``), credits, rate windows, faults and stats.
Tests call its methods in-process (``SimServer.state``); the ``/_sim`` HTTP routes call the
same methods for other processes.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from simulator.auth import TokenRegistry
from simulator.bulk_read import COMPLETED, FAILURE, BulkReadJob, PageCursor, ReadSpec
from simulator.bulk_write import WriteRegistry
from simulator.clock import SimClock, format_time
from simulator.config import OrgSpec, SimConfig
from simulator.cursors import CursorCodec
from simulator.errors import FatalApiError, InvalidQueryError, too_many_requests
from simulator.faults import Fault, FaultBook
from simulator.generator import ModuleGenerator, module_base_id
from simulator.limits import CreditLedger, DownloadRate, InFlight
from simulator.pages import write_page
from simulator.schema import (
    DEFAULT_SCHEMAS,
    JSON_TYPES,
    FieldDef,
    ModuleSchema,
    default_picklist,
)
from simulator.stats import SimStats
from simulator.store import RecordStore
from simulator.upload_store import UploadStore

if TYPE_CHECKING:
    from simulator.creator.state import CreatorState

WORKERS = 2
CALLBACK_TICK = 0.05


class SimState:
    """The whole simulated Zoho (thread-safe; jobs are written by a small thread pool)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self._lock = threading.RLock()
        self.clock = SimClock()
        self._workdir = Path(tempfile.mkdtemp(prefix="zoho-sim-"))
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="sim-job")
        self._job_counter = 0
        self._pending: list[Future[None]] = []
        self._stopping = threading.Event()
        self._callbacks: threading.Thread | None = None
        self._default_config = config or SimConfig()
        self._install(self._default_config)

    def _install(self, config: SimConfig) -> None:
        self.config = config
        self.orgs: dict[str, OrgSpec] = {o.key: o for o in config.orgs}
        self.tokens = TokenRegistry(self.clock)
        self.credits = CreditLedger(self.clock)
        self.downloads = DownloadRate(self.clock)
        self.in_flight = InFlight()
        self.faults = FaultBook()
        self.stats = SimStats()
        self._schemas: dict[tuple[str, str, str], ModuleSchema] = {}
        self._stores: dict[tuple[str, str, str], RecordStore] = {}
        self.jobs: dict[str, BulkReadJob] = {}
        self.cursors = CursorCodec(config.seed)
        self.write_jobs = WriteRegistry()
        self.uploads = UploadStore()
        self.creator: CreatorState | None = None  # made on first use (creator_state)

    # -- lifecycle ----------------------------------------------------------------------
    def reset(self, config: SimConfig | None = None) -> None:
        """Back to the default (or the given) config, data, clock and no faults."""
        with self._lock:
            for future in self._pending:
                future.cancel()  # jobs of the old state that have not started yet
            self._pending.clear()
            self.clock.reset()
            self._install(config or self._default_config)
            for path in self._workdir.iterdir():
                path.unlink(missing_ok=True)

    def configure(self, **changes: Any) -> SimConfig:
        """Change config fields. Changing ``records``, ``seed``, ``chunk_size`` or ``orgs``
        rebuilds the record stores, which drops record changes made so far."""
        with self._lock:
            self.config = replace(self.config, **changes)
            self.orgs = {o.key: o for o in self.config.orgs}
            self.cursors = CursorCodec(self.config.seed)
            if {"records", "seed", "chunk_size", "orgs"} & set(changes):
                self._stores.clear()
            return self.config

    def close(self) -> None:
        self._stopping.set()
        if self._callbacks is not None:
            self._callbacks.join(timeout=10)
        self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._workdir, ignore_errors=True)

    @property
    def workdir(self) -> Path:
        return self._workdir

    # -- orgs, schemas, stores -----------------------------------------------------------
    def org(self, key: str) -> OrgSpec:
        try:
            return self.orgs[key]
        except KeyError:
            raise KeyError(f"no simulated org {key!r}; known: {sorted(self.orgs)}") from None

    def schema(self, org_key: str, product: str, module: str) -> ModuleSchema | None:
        with self._lock:
            key = (org_key, product, module)
            if key not in self._schemas:
                default = DEFAULT_SCHEMAS.get((product, module))
                if default is None:
                    return None
                self._schemas[key] = default
            return self._schemas[key]

    def modules(self, product: str) -> list[str]:
        return [m for (p, m) in DEFAULT_SCHEMAS if p == product]

    def store(self, org_key: str, product: str, module: str) -> RecordStore | None:
        """The record store of an org's module (created on first use), or None."""
        with self._lock:
            key = (org_key, product, module)
            if key in self._stores:
                return self._stores[key]
            schema = self.schema(org_key, product, module)
            if schema is None:
                return None
            org = self.org(org_key)
            lookups = {f.lookup for f in schema.fields if f.data_type == "lookup" and f.lookup}
            counts = {m: self.config.record_count(m) for m in lookups}
            bases = {m: module_base_id(org, DEFAULT_SCHEMAS[(product, m)].number) for m in lookups}
            generator = ModuleGenerator(self.config.seed, org, schema, counts, bases)
            store = RecordStore(
                generator,
                self.config.record_count(module),
                self.clock,
                lambda parent: self.store(org_key, product, parent),
                self.config.chunk_size,
            )
            self._stores[key] = store
            return store

    def _require_store(self, org_key: str, product: str, module: str) -> RecordStore:
        store = self.store(org_key, product, module)
        if store is None:
            raise KeyError(f"{product} has no simulated module {module!r}")
        return store

    # -- admin: records and schema drift ----------------------------------------------
    def insert_record(
        self, org_key: str, product: str, module: str, values: dict[str, str | None]
    ) -> str:
        return self._require_store(org_key, product, module).insert(values)

    def update_record(
        self, org_key: str, product: str, module: str, record_id: str, values: dict[str, Any]
    ) -> None:
        self._require_store(org_key, product, module).update(record_id, values)

    def delete_record(self, org_key: str, product: str, module: str, record_id: str) -> None:
        self._require_store(org_key, product, module).delete(record_id)

    def get_record(
        self, org_key: str, product: str, module: str, record_id: str
    ) -> dict[str, str | None] | None:
        return self._require_store(org_key, product, module).get(record_id)

    def _drift(self, org_key: str, product: str, module: str, schema: ModuleSchema) -> None:
        with self._lock:
            self._schemas[(org_key, product, module)] = schema
            self._require_store(org_key, product, module).set_schema(schema)

    def add_field(
        self, org_key: str, product: str, module: str, api_name: str, data_type: str = "text"
    ) -> None:
        """Schema drift: a new field appears (generated like any field of its type)."""
        schema = self._schema_or_fail(org_key, product, module)
        if data_type not in JSON_TYPES or data_type in ("lookup", "ownerlookup"):
            raise ValueError(f"cannot add a field of data type {data_type!r}")
        new = FieldDef(api_name, data_type, picklist=default_picklist(data_type), empty_pct=10)
        self._drift(org_key, product, module, schema.with_field_added(new))

    def remove_field(self, org_key: str, product: str, module: str, api_name: str) -> None:
        schema = self._schema_or_fail(org_key, product, module)
        self._drift(org_key, product, module, schema.with_field_removed(api_name))

    def change_field_type(
        self, org_key: str, product: str, module: str, api_name: str, data_type: str
    ) -> None:
        schema = self._schema_or_fail(org_key, product, module)
        self._drift(org_key, product, module, schema.with_field_type(api_name, data_type))

    def _schema_or_fail(self, org_key: str, product: str, module: str) -> ModuleSchema:
        self.org(org_key)
        schema = self.schema(org_key, product, module)
        if schema is None:
            raise KeyError(f"{product} has no simulated module {module!r}")
        return schema

    # -- admin: faults and tokens -------------------------------------------------------
    def add_fault(self, kind: str, **options: Any) -> Fault:
        """Inject a fault (see ``simulator.faults``), e.g. ``add_fault("status", status=429)``."""
        return self.faults.add(Fault(kind=kind, **options))  # type: ignore[arg-type]

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_refresh_token(self, org_key: str) -> None:
        """The org's refresh token stops working (token endpoint answers invalid_code)."""
        self.tokens.revoke_refresh_token(self.org(org_key).refresh_token)

    def revoke_access_tokens(self, org_key: str) -> int:
        """Every access token of the org becomes invalid (401 INVALID_TOKEN)."""
        return self.tokens.revoke_access_tokens(self.org(org_key).key)

    # -- calls: credits and concurrency -------------------------------------------------
    def charge(self, org_key: str, cost: int) -> int:
        org = self.org(org_key)
        remaining = self.credits.charge(org.key, cost, self.config.edition_of(org).credits_per_day)
        self.stats.count(self.stats.credits_used, org.key, cost)
        return remaining

    def credits_remaining(self, org_key: str) -> int:
        org = self.org(org_key)
        return self.credits.remaining(org.key, self.config.edition_of(org).credits_per_day)

    # -- bulk read ----------------------------------------------------------------------
    def page_cursor(self, org_key: str, token: str) -> PageCursor:
        """The cursor a bulk read ``page_token`` stands for (INVALID_DATA if bad or expired)."""
        raw = self.cursors.decode(token)
        cursor: PageCursor | None = None
        if raw is not None and raw.get("kind") == "bulk":
            try:
                cursor = PageCursor.from_json(raw)
            except (KeyError, TypeError, ValueError):
                cursor = None
        if cursor is None or cursor.org_key != org_key:
            raise InvalidQueryError(
                "INVALID_DATA", "the given page_token is invalid", {"api_name": "page_token"}
            )
        if self.clock.now() > cursor.created_at + self.config.page_token_ttl:
            raise InvalidQueryError(
                "INVALID_DATA", "the given page_token has expired", {"api_name": "page_token"}
            )
        return cursor

    def create_read_job(self, org_key: str, spec: ReadSpec) -> BulkReadJob:
        """Register a job and start writing its page in the background."""
        org = self.org(org_key)
        store = self._require_store(org_key, spec.product, spec.module)
        now = self.clock.now()
        with self._lock:
            active = sum(
                1
                for j in self.jobs.values()
                if j.org_key == org_key and j.state(now) not in (COMPLETED, FAILURE)
            )
            if active >= self.config.edition_of(org).active_bulk_jobs:
                raise too_many_requests(f"org {org_key} has {active} bulk jobs running")
            self._job_counter += 1
            job_id = str(org.id_prefix * 10**12 + 1_294_000 + self._job_counter)
        low, high = self.config.job_seconds
        seconds = random.Random(f"{self.config.seed}/{job_id}").uniform(low, high)
        slow = self.faults.take("slow_job", f"/{spec.product}/{spec.module}", org_key)
        if slow is not None:
            seconds = slow.seconds
        failing = self.faults.take("job_failure", f"/{spec.product}/{spec.module}", org_key)
        user = store.users[0]
        job = BulkReadJob(
            id=job_id,
            org_key=org_key,
            product=spec.product,
            spec=spec,
            created_at=now,
            processing_seconds=seconds,
            will_fail=failing is not None,
            created_by={"id": user.id, "name": user.full_name},
            created_time=format_time(now, org.utc_offset_minutes),
            module_id=str(org.id_prefix * 10**12 + 2_175 + store.schema.number),
            zip_path=self._workdir / f"{job_id}.zip",
            per_page=self.config.per_page,
        )
        with self._lock:
            self.jobs[job_id] = job
        self.stats.count(self.stats.jobs_created, f"{org_key}/{spec.product}/{spec.module}")
        future = self._executor.submit(self._run_job, job, store)
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(future)
        if spec.callback is not None:
            self._start_callbacks()
        return job

    # -- callbacks ----------------------------------------------------------------------
    def _start_callbacks(self) -> None:
        with self._lock:
            if self._callbacks is None:
                self._callbacks = threading.Thread(
                    target=self._callback_loop, name="sim-callbacks", daemon=True
                )
                self._callbacks.start()

    def _callback_loop(self) -> None:
        """POST ``{"data": [JobDetail]}`` to a job's callback URL once it has ended."""
        while not self._stopping.wait(CALLBACK_TICK):
            now = self.clock.now()
            with self._lock:
                due = [
                    j
                    for j in self.jobs.values()
                    if j.spec.callback
                    and not j.callback_sent
                    and j.state(now) in (COMPLETED, FAILURE)
                ]
            for job in due:
                job.callback_sent = True
                self._post_callback(job, now)

    def _post_callback(self, job: BulkReadJob, now: float) -> None:
        url = str((job.spec.callback or {})["url"])
        prefix = "/crm/bulk/v8" if job.product == "crm" else "/recruit/bulk/v2"
        try:
            requests.post(url, json={"data": [job.detail(now, prefix)]}, timeout=5)
        except requests.RequestException:
            self.stats.count(self.stats.errors, "CALLBACK_FAILURE")
            return
        self.stats.count(self.stats.callbacks, job.id)

    def _run_job(self, job: BulkReadJob, store: RecordStore) -> None:
        try:
            if not job.will_fail:
                spec = job.spec
                outcome = write_page(
                    store,
                    spec.fields,
                    spec.criteria,
                    spec.start_slot,
                    spec.skip_pages * job.per_page,
                    job.per_page,
                    job.zip_path,
                    f"{job.id}.csv",
                    self.config.zip_compresslevel,
                )
                job.outcome = outcome
                if outcome.more_records and job.product == "crm" and outcome.next_slot is not None:
                    job.next_page_token = self._mint_page_token(job, outcome.next_slot)
        except Exception as exc:  # a bug or a full disk: the job ends FAILURE, like Zoho's
            job.worker_error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = self.clock.now()
            job.done.set()

    def _mint_page_token(self, job: BulkReadJob, next_slot: int) -> str:
        spec = job.spec
        cursor = PageCursor(
            org_key=job.org_key,
            user_id=job.created_by["id"],
            product=job.product,
            module=spec.module,
            fields=tuple(spec.fields),
            fields_given=None if spec.fields_given is None else tuple(spec.fields_given),
            criteria_raw=spec.criteria_raw,
            start_slot=next_slot,
            page=spec.page + 1,
            created_at=max(self.clock.now(), job.created_at + job.processing_seconds),
        )
        return self.cursors.encode({"kind": "bulk", **cursor.to_json()})

    def read_job(self, org_key: str, product: str, job_id: str) -> BulkReadJob:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None or job.org_key != org_key or job.product != product:
            raise FatalApiError(
                404,
                "RESOURCE_NOT_FOUND",
                "The requested resource doesn't exist.",
                {"resource": job_id},
            )
        return job

    def wait_jobs(self, timeout: float = 30.0) -> None:
        """Block until every job's worker has finished (tests)."""
        with self._lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            job.done.wait(timeout)
