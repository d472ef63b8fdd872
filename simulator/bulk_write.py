"""Bulk write steps 2-4: create job, job details, result download (docs §2.4-§2.8, §3).

Routes (one server, hosts by path prefix):

- ``POST {base}/{dc}/api/crm/bulk/v8/write`` and ``{base}/{dc}/recruit/recruit/bulk/v2/write``:
  validate the request as Zoho does (``MANDATORY_NOT_FOUND``, ``INVALID_DATA``,
  ``INVALID_FIELD``, ``INVALID_FORMAT``, ``INVALID_FILE_ID``, ``HEADER_LIMIT_EXCEEDED``,
  ``COLUMN_INDEX_NOT_FOUND``, ``MISSING_REQUIRED_KEY``, ``MODULE_NOT_AVAILABLE``,
  ``FILE_NOT_SUPPORTED``, ``MANDATORY_FIELDS_NOT_MAPPED``, ``COEXISTENCE_NOT_ALLOWED``,
  ``INVALID_CALLBACK_METHOD``); 201 with a bare ``{"status":"success","code":"SUCCESS",...}``.
  Costs 500 credits (Recruit's bulk credit cost is UNCERTAIN, §3: the same is assumed).
  With a ``callback`` the job details are POSTed to its URL once the job is finished.
- ``GET .../write/{job_id}``: the job as a bare object; ``status`` ``ADDED`` ->
  ``IN PROGRESS`` -> ``COMPLETED`` (or ``FAILED``) as simulated time passes; resource file
  counts; ``result.download_url`` absolute on the download host.
- ``GET {base}/{dc}/download/v2/crm/{zgid}/bulk-write/{job_id}/{job_id}.zip``: the result
  zip: ``{Module}-{csv name}`` with the first three mapped columns as uploaded, then
  ``STATUS``, ``RECORD_ID``, ``ERRORS`` (Recruit results use the same ``/crm/`` path, §3).

Parent/child imports (CRM only, §2.2/§2.4): several ``resource[]`` entries, the parent
first, each naming its CSV of the one uploaded zip in ``file_names`` (same ``file_id``).
Children are subform modules of the parent (``ModuleSchema.parent_module``, e.g.
``Deal_Line_Items`` of ``Deals``) and map ``Parent_Id`` either ``find_by: id`` (the cell
is an existing parent id) or with ``parent_column_index`` (the cell holds the value of
that parent CSV column: the row joins the record its parent row added, updated or
matched in this job). Each resource gets its own file counts and result CSV. A zip with
several CSVs needs ``file_names``; Recruit takes one CSV per zip (§3).

Processing (``simulator.bulk_write_rows``) changes the org's ``RecordStore`` for real, so
a later bulk read returns the written values. Jobs of one server are processed one at a
time, in a background thread, as soon as they are created; the status reports COMPLETED
once the simulated processing time has passed as well. The ``job_failure`` and
``slow_job`` faults (path ``/{product}/{Module}``) apply to write jobs too.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import random
import threading
import weakref
import zipfile
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from simulator.bulk_write_rows import ColumnMap, RowProcessor, RowResult, java_to_strptime
from simulator.clock import format_time
from simulator.deps import CallContext, api_call
from simulator.errors import FatalApiError, resource_not_found
from simulator.state import SimState
from simulator.upload import upload_store

ADDED, IN_PROGRESS, COMPLETED, FAILED = "ADDED", "IN PROGRESS", "COMPLETED", "FAILED"
OPERATIONS = ("insert", "update", "upsert")
MAX_ROWS = 25_000
MAX_COLUMNS = 200
RESULT_ECHO_COLUMNS = 3
DELIMITERS = ",;:|"
RECORD_CODES = ("NOT_APPROVED", "BLOCKED_RECORD")

crm_router = APIRouter(prefix="/{dc}/api/crm/bulk/v8")
recruit_router = APIRouter(prefix="/{dc}/recruit/recruit/bulk/v2")
download_router = APIRouter(prefix="/{dc}/download")


def _bad(code: str, message: str, details: dict[str, Any] | None = None) -> FatalApiError:
    return FatalApiError(400, code, message, details or {})


@dataclass
class WriteResource:
    """One ``resource[]`` entry: a module, its CSV inside the uploaded zip, its rows.

    ``parent_link`` (child resources only): ``(child column, parent column)`` when the
    ``Parent_Id`` mapping has a ``parent_column_index``: the child cell holds the value
    of that parent CSV column, and the row joins the parent record that row created or
    found in this job. With ``find_by`` instead, ``Parent_Id`` is an ordinary lookup.
    """

    module: str
    module_id: str
    find_by: str | None
    field_mappings: list[dict[str, Any]]
    csv_name: str
    file_names: list[str] | None
    header: list[str]
    rows: list[list[str]]
    columns: list[ColumnMap]
    parent_link: tuple[int, int] | None = None
    results: list[RowResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def detail(self, status: str, file_id: str, failure: str | None) -> dict[str, Any]:
        file: dict[str, Any] = {"status": status}
        if status != ADDED:
            file["name"] = self.csv_name
        if status == COMPLETED:
            file.update(
                added_count=self.counts.get("added", 0),
                skipped_count=self.counts.get("skipped", 0),
                updated_count=self.counts.get("updated", 0),
                total_count=len(self.rows),
            )
        resource: dict[str, Any] = {
            "status": status,
            "code": status,
            "type": "data",
            "module": {"id": self.module_id, "api_name": self.module},
            "file_id": file_id,
            "field_mappings": self.field_mappings,
            "file": file,
        }
        if self.file_names is not None:
            resource["file_names"] = self.file_names
        if self.find_by:
            resource["find_by"] = self.find_by
        if status == FAILED:
            resource["message"] = failure
        return resource


@dataclass
class WriteJob:
    id: str
    org_key: str
    zgid: str
    product: str
    operation: str
    ignore_empty: bool
    character_encoding: str
    callback: dict[str, Any] | None
    created_by: dict[str, str]
    created_time: str
    created_at: float
    processing_seconds: float
    will_fail: bool
    file_id: str
    resources: list[WriteResource]
    done: threading.Event = field(default_factory=threading.Event)
    result_zip: bytes | None = None
    failure: str | None = None
    base_url: str = ""

    @property
    def module(self) -> str:
        """The (parent) module: the first resource's."""
        return self.resources[0].module

    def status(self, now: float) -> str:
        elapsed = now - self.created_at
        if elapsed < 0.15 * self.processing_seconds:
            return ADDED
        if elapsed < self.processing_seconds or not self.done.is_set():
            return IN_PROGRESS
        return FAILED if self.failure else COMPLETED

    def detail(self, now: float, base_url: str, dc: str) -> dict[str, Any]:
        status = self.status(now)
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "status": status,
            "character_encoding": self.character_encoding,
            "ignore_empty": self.ignore_empty,
            "created_by": self.created_by,
            "created_time": self.created_time,
            "resource": [r.detail(status, self.file_id, self.failure) for r in self.resources],
        }
        if self.callback is not None:
            body["callback"] = self.callback
        if status == COMPLETED:
            url = f"{base_url}/{dc}/download/v2/crm/{self.zgid}/bulk-write/{self.id}/{self.id}.zip"
            body["result"] = {"download_url": url}
        return body


class WriteRegistry:
    """Write jobs and admin marks of one ``SimState`` (fresh after ``state.reset()``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process_lock = threading.Lock()
        self.jobs: dict[str, WriteJob] = {}
        self.counter = itertools.count(1)
        #: (org, product, module, record id) -> NOT_APPROVED / BLOCKED_RECORD
        self.blocked: dict[tuple[str, str, str, str], str] = {}


_REGISTRIES: weakref.WeakKeyDictionary[SimState, tuple[object, WriteRegistry]] = (
    weakref.WeakKeyDictionary()
)
_REGISTRIES_LOCK = threading.Lock()


def write_registry(state: SimState) -> WriteRegistry:
    with _REGISTRIES_LOCK:
        entry = _REGISTRIES.get(state)
        if entry is None or entry[0] is not state.jobs:
            entry = (state.jobs, WriteRegistry())
            _REGISTRIES[state] = entry
        return entry[1]


def block_record(
    state: SimState, org_key: str, product: str, module: str, record_id: str, code: str
) -> None:
    """Admin: writes to this record fail with ``code`` (``NOT_APPROVED`` / ``BLOCKED_RECORD``)."""
    if code not in RECORD_CODES:
        raise ValueError(f"code must be one of {RECORD_CODES}")
    write_registry(state).blocked[(org_key, product, module, record_id)] = code


def wait_write_jobs(state: SimState, timeout: float = 30.0) -> None:
    """Block until every write job's processing has finished (tests)."""
    registry = write_registry(state)
    with registry.lock:
        jobs = list(registry.jobs.values())
    for job in jobs:
        job.done.wait(timeout)


# ------------------------------------------------------------------------------ create


def _create(ctx: CallContext, body: Any, base_url: str) -> JSONResponse:
    state = ctx.state
    if not isinstance(body, dict):
        raise _bad("INVALID_DATA", "the request body must be a JSON object")
    operation = body.get("operation")
    if operation is None:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            "required key operation is not found in request body.",
            {"api_name": "operation", "json_path": "$.operation"},
        )
    if operation not in OPERATIONS:
        raise _bad("INVALID_DATA", "invalid data", {"api_name": "operation"})
    callback = body.get("callback", body.get("callBack"))
    if callback is not None:
        if not isinstance(callback, dict) or not callback.get("url"):
            raise _bad(
                "MANDATORY_NOT_FOUND",
                "required key url is not found in request body.",
                {"api_name": "url", "json_path": "$.callback.url"},
            )
        if str(callback.get("method", "")).lower() != "post":
            raise _bad(
                "INVALID_CALLBACK_METHOD",
                "invalid callback method",
                {"supported_callback_methods": ["post"]},
            )
    resources = body.get("resource")
    if not isinstance(resources, list) or not resources:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            "required key resource is not found in request body.",
            {"api_name": "resource", "json_path": "$.resource"},
        )
    if len(resources) > 1 and ctx.product != "crm":
        raise _bad(
            "FILE_NOT_SUPPORTED",
            "File not supported for bulk write",
            {"reason": "Recruit takes one CSV (one resource) per job"},
        )
    ignore_empty = body.get("ignore_empty", False)
    for n, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise _bad("INVALID_DATA", "invalid data", {"json_path": f"$.resource[{n}]"})
        both = "ignore_empty" in resource and "ignore_empty" in body
        if both and resource["ignore_empty"] != ignore_empty:
            raise _bad(
                "COEXISTENCE_NOT_ALLOWED",
                "ignore_empty is given at the top level and in the resource",
                {"api_name": "ignore_empty", "json_path": f"$.resource[{n}].ignore_empty"},
            )
    ignore_empty = bool(resources[0].get("ignore_empty", ignore_empty))
    job = _build_job(ctx, body, resources, operation, ignore_empty, callback)
    job.base_url = base_url
    registry = write_registry(state)
    with registry.lock:
        registry.jobs[job.id] = job
    state.stats.count(state.stats.jobs_created, f"{ctx.org.key}/{ctx.product}/{job.module}#write")
    modules = {r.module for r in job.resources}
    blocked = {
        (module, rid): code
        for (org, product, module, rid), code in registry.blocked.items()
        if (org, product) == (ctx.org.key, ctx.product) and module in modules
    }
    threading.Thread(
        target=_process, args=(state, registry, job, blocked), daemon=True, name="sim-write"
    ).start()
    answer = {
        "status": "success",
        "code": "SUCCESS",
        "message": "success",
        "details": {
            "id": job.id,
            "created_by": job.created_by,
            "created_time": job.created_time,
        },
    }
    return JSONResponse(answer, status_code=201)


def _build_job(
    ctx: CallContext,
    body: dict[str, Any],
    resources: list[dict[str, Any]],
    operation: str,
    ignore_empty: bool,
    callback: dict[str, Any] | None,
) -> WriteJob:
    state = ctx.state
    for n, resource in enumerate(resources):
        _resource_store(ctx, resource, n)
    file_ids = {str(r.get("file_id") or "") for r in resources}
    file_id = resources[0].get("file_id")
    if not file_id:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            "required key file_id is not found in request body.",
            {"api_name": "file_id", "json_path": "$.resource[0].file_id"},
        )
    if len(file_ids) > 1:
        raise _bad(
            "INVALID_FILE_ID",
            "the resources of a parent/child import must share one file_id",
            {"api_name": "file_id"},
        )
    uploaded = upload_store(state).get(str(file_id))
    if uploaded is None or (uploaded.org_key, uploaded.product) != (ctx.org.key, ctx.product):
        raise _bad("INVALID_FILE_ID", "improper file id", {"api_name": "file_id"})
    encoding = body.get("character_encoding")
    built: list[WriteResource] = []
    for n, resource in enumerate(resources):
        parent = built[0] if n else None
        built.append(
            _build_resource(ctx, resource, n, len(resources), operation, uploaded.data, encoding,
                            parent)
        )  # fmt: skip
    names = [r.csv_name for r in built]
    if len(set(names)) != len(names):
        raise _bad(
            "INVALID_DATA",
            "each resource of a parent/child import needs its own CSV",
            {"api_name": "file_names"},
        )
    module = built[0].module
    org = ctx.org
    registry = write_registry(state)
    job_id = str(org.id_prefix * 10**12 + 5_350_000 + next(registry.counter))
    low, high = state.config.job_seconds
    seconds = random.Random(f"{state.config.seed}/write/{job_id}").uniform(low, high)
    slow = state.faults.take("slow_job", f"/{ctx.product}/{module}", org.key)
    if slow is not None:
        seconds = slow.seconds
    failing = state.faults.take("job_failure", f"/{ctx.product}/{module}", org.key)
    store = state.store(org.key, ctx.product, module)
    assert store is not None
    user = store.users[0]
    now = state.clock.now()
    return WriteJob(
        id=job_id,
        org_key=org.key,
        zgid=org.zgid,
        product=ctx.product,
        operation=operation,
        ignore_empty=ignore_empty,
        character_encoding=str(body.get("character_encoding") or "UTF-8"),
        callback=callback,
        created_by={"id": user.id, "name": user.full_name},
        created_time=format_time(now, org.utc_offset_minutes),
        created_at=now,
        processing_seconds=seconds,
        will_fail=failing is not None,
        file_id=str(file_id),
        resources=built,
    )


def _resource_store(ctx: CallContext, resource: dict[str, Any], n: int) -> tuple[str, Any]:
    """The module named by ``resource[n]`` and its store (checked before the file)."""
    state = ctx.state
    path = f"$.resource[{n}]"
    if resource.get("type", "data") != "data":
        raise _bad("INVALID_DATA", "invalid data", {"api_name": "type", "json_path": path})
    module_ref = resource.get("module")
    module = module_ref.get("api_name") if isinstance(module_ref, dict) else module_ref
    if not module:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            "required key module is not found in request body.",
            {"api_name": "module", "json_path": f"{path}.module"},
        )
    store = state.store(ctx.org.key, ctx.product, str(module))
    if store is None:
        raise _bad("MODULE_NOT_AVAILABLE", f"Requested module '{module}' is not available.")
    return str(module), store


def _build_resource(
    ctx: CallContext,
    resource: dict[str, Any],
    n: int,
    count: int,
    operation: str,
    data: bytes,
    encoding: Any,
    parent: WriteResource | None,
) -> WriteResource:
    """Validate ``resource[n]`` (``parent``: resource[0] when this one is a child)."""
    state = ctx.state
    path = f"$.resource[{n}]"
    module, store = _resource_store(ctx, resource, n)
    schema = store.schema
    if parent is not None and schema.parent_module != parent.module:
        raise _bad(
            "INVALID_DATA",
            f"{module} is not a subform of {parent.module}; the parent resource comes first",
            {"api_name": "module", "json_path": f"{path}.module"},
        )
    file_names = resource.get("file_names")
    if count > 1 and not file_names:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            "required key file_names is not found in request body.",
            {"api_name": "file_names", "json_path": f"{path}.file_names"},
        )
    find_by = resource.get("find_by")
    if parent is None and operation in ("update", "upsert") and not find_by:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            "Required key find_by is not available",
            {"api_name": "find_by", "json_path": f"{path}.find_by"},
        )
    if find_by and find_by != "id":
        spec = schema.field(str(find_by))
        if spec is None:
            raise _bad("INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": find_by})
        if not spec.unique:
            raise _bad(
                "INVALID_DATA", "find_by must be a unique field or id", {"api_name": find_by}
            )
    csv_name, header, rows = _read_csv(data, ctx.product, file_names, encoding)
    columns, echo, parent_columns = _columns(
        resource.get("field_mappings"), header, schema, state, ctx, n,
        parent.header if parent is not None else None,
    )  # fmt: skip
    mapped = {c.api_name for c in columns}
    if find_by and find_by not in mapped:
        raise _bad(
            "MANDATORY_NOT_FOUND",
            f"the find_by field {find_by} is not mapped",
            {"api_name": find_by, "json_path": f"{path}.field_mappings"},
        )
    if operation in ("insert", "upsert") or parent is not None:
        unmapped = [f.api_name for f in schema.fields if f.mandatory and f.api_name not in mapped]
        if unmapped:
            raise _bad(
                "MANDATORY_FIELDS_NOT_MAPPED",
                "All mandatory fields are not mapped for the layout",
                {"api_names": unmapped},
            )
    link = None
    if schema.parent_module is not None:
        parent_id = next((c for c in columns if c.api_name == "Parent_Id"), None)
        if parent_id is None or parent_id.index is None:
            raise _bad(
                "MANDATORY_NOT_FOUND",
                "a subform mapping needs {api_name: Parent_Id, find_by: id, index: N}",
                {"api_name": "Parent_Id", "json_path": f"{path}.field_mappings"},
            )
        if "Parent_Id" in parent_columns:
            link = (parent_id.index, parent_columns["Parent_Id"])
    return WriteResource(
        module=str(module),
        module_id=str(ctx.org.id_prefix * 10**12 + 2_175 + schema.number),
        find_by=str(find_by) if find_by else None,
        field_mappings=echo,
        csv_name=csv_name,
        file_names=[str(f) for f in file_names] if isinstance(file_names, list) else None,
        header=header,
        rows=rows,
        columns=columns,
        parent_link=link,
    )


def _read_csv(
    data: bytes, product: str, file_names: Any, encoding: Any
) -> tuple[str, list[str], list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if product == "recruit" and len(archive.namelist()) != 1:
            raise _bad(
                "FILE_NOT_SUPPORTED",
                "File not supported for bulk write",
                {"reason": f"the zip holds {len(names)} files; Recruit takes one CSV per zip"},
            )
        if file_names:
            if not isinstance(file_names, list) or len(file_names) != 1:
                raise _bad("FILE_NOT_SUPPORTED", "File not supported for bulk write")
            if file_names[0] not in names:
                raise _bad("INVALID_DATA", "invalid data", {"api_name": "file_names"})
            names = [str(file_names[0])]
        elif len(names) != 1:
            raise _bad(
                "FILE_NOT_SUPPORTED",
                "File not supported for bulk write",
                {
                    "reason": f"the zip holds {len(names)} files; without file_names one CSV is"
                    " expected (several only for parent/child imports naming theirs)"
                },
            )
        raw = archive.read(names[0])
    codec = str(encoding or "utf-8-sig")
    try:
        text = raw.decode("utf-8-sig" if codec.lower().replace("_", "-") == "utf-8" else codec)
    except (LookupError, UnicodeDecodeError):
        raise _bad("INVALID_DATA", "the file is not in the declared character encoding") from None
    first = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first.count) if first else ","
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not table or not table[0]:
        raise _bad("FILE_NOT_SUPPORTED", "File not supported for bulk write", {"reason": "empty"})
    header, rows = table[0], [r for r in table[1:] if r]
    if len(header) > MAX_COLUMNS:
        raise _bad(
            "FILE_NOT_SUPPORTED",
            "File not supported for bulk write",
            {"reason": f"{len(header)} columns, the limit is {MAX_COLUMNS}"},
        )
    if len(rows) > MAX_ROWS:
        raise _bad(
            "FILE_NOT_SUPPORTED",
            "File not supported for bulk write",
            {"reason": f"{len(rows)} records, the limit is {MAX_ROWS}"},
        )
    return names[0].rsplit("/", 1)[-1], header, rows


def _columns(
    mappings: Any,
    header: list[str],
    schema: Any,
    state: SimState,
    ctx: CallContext,
    resource_index: int = 0,
    parent_header: list[str] | None = None,
) -> tuple[list[ColumnMap], list[dict[str, Any]], dict[str, int]]:
    """Validated columns, the echoed ``field_mappings`` and the ``parent_column_index``es.

    ``parent_column_index`` is only valid in a child resource (``parent_header`` given)
    and must point into the parent's CSV (UNCERTAIN reading of the docs: the child cell
    holds that parent column's value, which links the row to the parent row).
    """
    if mappings is None:
        mappings = []
        for i, name in enumerate(header):
            api, _, by = name.partition(".")
            mappings.append({"api_name": api, "index": i, **({"find_by": by} if by else {})})
    if not isinstance(mappings, list):
        raise _bad("INVALID_DATA", "invalid data", {"api_name": "field_mappings"})
    if len(mappings) > MAX_COLUMNS:
        raise _bad(
            "HEADER_LIMIT_EXCEEDED",
            f"more than {MAX_COLUMNS} field mappings",
            {"limit": MAX_COLUMNS},
        )
    columns: list[ColumnMap] = []
    echo: list[dict[str, Any]] = []
    parent_columns: dict[str, int] = {}
    for n, item in enumerate(mappings):
        path = f"$.resource[{resource_index}].field_mappings[{n}]"
        if not isinstance(item, dict) or not item.get("api_name"):
            raise _bad(
                "MANDATORY_NOT_FOUND",
                "required key api_name is not found in request body.",
                {"api_name": "api_name", "json_path": f"{path}.api_name"},
            )
        api = str(item["api_name"])
        spec = schema.field(api)
        if api != "id" and spec is None:
            raise _bad(
                "INVALID_FIELD", f"invalid mapping. invalid api_name {api}", {"api_name": api}
            )
        if spec is not None and spec.read_only:
            raise _bad("INVALID_FIELD", f"field {api} is read only", {"api_name": api})
        index = item.get("index")
        default = item.get("default_value")
        default_text = None
        if isinstance(default, dict) and default.get("value") is not None:
            value = default["value"]
            default_text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if index is None and default_text is None:
            raise _bad(
                "MISSING_REQUIRED_KEY",
                f"required key index for field {api} is not found in request body.",
                {"api_name": api, "json_path": f"{path}.index"},
            )
        if index is not None and (
            isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(header)
        ):
            raise _bad(
                "COLUMN_INDEX_NOT_FOUND",
                f"column index {index} of field {api} is not in the file",
                {"api_name": api, "json_path": f"{path}.index"},
            )
        fmt = item.get("format")
        if fmt is not None and spec is not None and spec.data_type in ("date", "datetime"):
            try:
                java_to_strptime(str(fmt))
            except ValueError:
                raise _bad(
                    "INVALID_FORMAT", f"invalid format {fmt} for {api}", {"api_name": api}
                ) from None
        find_by = item.get("find_by")
        parent_index = item.get("parent_column_index")
        if parent_index is not None:
            if parent_header is None:
                raise _bad(
                    "INVALID_DATA",
                    "parent_column_index is only for child resources of a parent/child import",
                    {"api_name": api, "json_path": f"{path}.parent_column_index"},
                )
            if (
                isinstance(parent_index, bool)
                or not isinstance(parent_index, int)
                or not 0 <= parent_index < len(parent_header)
            ):
                raise _bad(
                    "COLUMN_INDEX_NOT_FOUND",
                    f"parent column index {parent_index} of field {api} is not in the parent file",
                    {"api_name": api, "json_path": f"{path}.parent_column_index"},
                )
            parent_columns[api] = parent_index
            find_by = "id"  # resolved to the parent row's record id before processing
        head = header[index] if index is not None else api
        if find_by is None and "." in head and head.split(".", 1)[0] == api:
            find_by = head.split(".", 1)[1]
        if find_by is not None and spec is not None:
            _check_lookup_find_by(spec, str(find_by), state, ctx)
        columns.append(ColumnMap(api, index, head, fmt, find_by, default_text))
        echo.append(
            {
                "api_name": api,
                "index": index,
                "format": fmt,
                "find_by": item.get("find_by") if parent_index is not None else find_by,
                "module": None,
                "parent_column_index": parent_index,
                "default_value": default if default is not None else None,
            }
        )
    return columns, echo, parent_columns


def _check_lookup_find_by(spec: Any, find_by: str, state: SimState, ctx: CallContext) -> None:
    if spec.data_type == "ownerlookup":
        if find_by not in ("id", "email", "full_name", "name"):
            raise _bad("INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": spec.api_name})
        return
    if spec.data_type != "lookup":
        raise _bad(
            "INVALID_DATA", f"find_by is only for lookup fields, not {spec.api_name}",
            {"api_name": spec.api_name},
        )  # fmt: skip
    parent = state.schema(ctx.org.key, ctx.product, spec.lookup or "")
    if find_by != "id" and (parent is None or parent.field(find_by) is None):
        raise _bad("INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": spec.api_name})


# ---------------------------------------------------------------------------- process


def _process(
    state: SimState,
    registry: WriteRegistry,
    job: WriteJob,
    blocked: dict[tuple[str, str], str],
) -> None:
    try:
        with registry.process_lock:
            if job.will_fail:
                job.failure = "the bulk write job could not be processed (simulated fault)"
                return
            parent = job.resources[0]
            for resource in job.resources:
                store = state.store(job.org_key, job.product, resource.module)
                if store is None:
                    job.failure = f"module {resource.module} disappeared"
                    return
                rows = resource.rows
                if resource is not parent and resource.parent_link is not None:
                    rows = _linked_rows(resource, parent)
                processor = RowProcessor(
                    store,
                    lambda module: state.store(job.org_key, job.product, module),
                    # Child rows are added to their parent (UNCERTAIN: Zoho's docs do not say
                    # how update/upsert treat subform rows); a child find_by keeps its meaning.
                    job.operation if resource is parent or resource.find_by else "insert",
                    resource.find_by,
                    job.ignore_empty,
                    resource.columns,
                    len(resource.header),
                    state.org(job.org_key).utc_offset_minutes,
                    {rid: code for (m, rid), code in blocked.items() if m == resource.module},
                )
                resource.results = [processor.process(row) for row in rows]
                c = processor.counts
                resource.counts = {
                    "added": c.added,
                    "updated": c.updated,
                    "skipped": c.skipped,
                    "unprocessed": c.unprocessed,
                }
            job.result_zip = _result_zip(job)
    except Exception as exc:  # a simulator bug must not leave the job hanging
        job.failure = f"{type(exc).__name__}: {exc}"
    finally:
        job.done.set()
    if job.callback is not None:
        _send_callback(state, job)


_UNRESOLVED_PARENT = "-"  # not a record id: the Parent_Id lookup fails with INVALID_DATA


def _linked_rows(child: WriteResource, parent: WriteResource) -> list[list[str]]:
    """Child rows with their link cell replaced by the id of the parent row it names.

    The link cell holds a value of the parent CSV's ``parent_column_index`` column; the
    parent row with that value gives the record it added, updated or matched (skipped).
    A parent row that failed, or a value no parent row has, leaves the child row
    unlinked (``INVALID_DATA-Parent_Id``); an empty cell stays empty
    (``MANDATORY_NOT_FOUND-Parent_Id``).
    """
    assert child.parent_link is not None
    child_column, parent_column = child.parent_link
    ids: dict[str, str] = {}
    for row, result in zip(parent.rows, parent.results, strict=True):
        if parent_column < len(row) and result.linked_id:
            ids.setdefault(row[parent_column].strip(), result.linked_id)
    linked = []
    for row in child.rows:
        copy = list(row)
        if child_column < len(copy) and copy[child_column].strip():
            copy[child_column] = ids.get(copy[child_column].strip(), _UNRESOLVED_PARENT)
        linked.append(copy)
    return linked


def _result_zip(job: WriteJob) -> bytes:
    """One result CSV per resource: ``{Module}-{csv stem}.csv``."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for resource in job.resources:
            stem = resource.csv_name.rsplit(".", 1)[0]
            archive.writestr(f"{resource.module}-{stem}.csv", _result_csv(resource))
    return sink.getvalue()


def _result_csv(resource: WriteResource) -> str:
    echo = sorted({c.index for c in resource.columns if c.index is not None})
    echo = echo[:RESULT_ECHO_COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(resource.header[i] for i in echo), "STATUS", "RECORD_ID", "ERRORS"])
    for row, result in zip(resource.rows, resource.results, strict=True):
        cells = [row[i] if i < len(row) else "" for i in echo]
        writer.writerow([*cells, result.status, result.record_id, result.error_text()])
    return out.getvalue()


def _send_callback(state: SimState, job: WriteJob) -> None:
    import time

    import requests

    assert job.callback is not None
    while job.status(state.clock.now()) not in (COMPLETED, FAILED):
        time.sleep(0.05)
    detail = job.detail(state.clock.now(), job.base_url, state.org(job.org_key).dc)
    # Zoho does not retry failed callbacks as far as is documented (UNCERTAIN).
    with contextlib.suppress(requests.RequestException):
        requests.post(str(job.callback["url"]), json=detail, timeout=5)


# ----------------------------------------------------------------------------- routes


def _job(ctx: CallContext, job_id: str) -> WriteJob:
    registry = write_registry(ctx.state)
    with registry.lock:
        job = registry.jobs.get(job_id)
    if job is None or job.org_key != ctx.org.key:
        raise resource_not_found(job_id)
    return job


def _details(request: Request, ctx: CallContext, job_id: str) -> JSONResponse:
    job = _job(ctx, job_id)
    if job.product != ctx.product:
        raise resource_not_found(job_id)
    ctx.state.stats.count(ctx.state.stats.polls, job_id)
    base = str(request.base_url).rstrip("/")
    return JSONResponse(job.detail(ctx.state.clock.now(), base, ctx.dc))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise FatalApiError(400, "REQUEST_BODY_IS_EMPTY", "the request body is empty")
    try:
        return json.loads(raw)
    except ValueError:
        raise FatalApiError(
            400, "REQUEST_BODY_NOT_SUPPORTED", "request body contains invalid format"
        ) from None


CrmWriteCreate = Annotated[CallContext, Depends(api_call("crm", cost=500))]
RecruitWriteCreate = Annotated[CallContext, Depends(api_call("recruit", cost=500))]
CrmCall = Annotated[CallContext, Depends(api_call("crm"))]
RecruitCall = Annotated[CallContext, Depends(api_call("recruit"))]


@crm_router.post("/write", status_code=201)
async def crm_create(request: Request, ctx: CrmWriteCreate) -> JSONResponse:
    return _create(ctx, await _json_body(request), str(request.base_url).rstrip("/"))


@crm_router.get("/write/{job_id}")
def crm_details(request: Request, job_id: str, ctx: CrmCall) -> JSONResponse:
    return _details(request, ctx, job_id)


@recruit_router.post("/write", status_code=201)
async def recruit_create(request: Request, ctx: RecruitWriteCreate) -> JSONResponse:
    return _create(ctx, await _json_body(request), str(request.base_url).rstrip("/"))


@recruit_router.get("/write/{job_id}")
def recruit_details(request: Request, job_id: str, ctx: RecruitCall) -> JSONResponse:
    return _details(request, ctx, job_id)


@download_router.get("/v2/crm/{zgid}/bulk-write/{job_id}/{name}")
def download_result(zgid: str, job_id: str, name: str, ctx: CrmCall) -> Response:
    state = ctx.state
    state.stats.count(state.stats.downloads, job_id)
    job = _job(ctx, job_id)
    ready = job.status(state.clock.now()) == COMPLETED and job.result_zip is not None
    if zgid != job.zgid or name != f"{job_id}.zip" or not ready:
        raise resource_not_found(job_id)
    assert job.result_zip is not None
    return Response(
        job.result_zip,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{job_id}.zip"'},
    )
