"""Bulk write requests checked as Zoho checks them (docs/zoho-bulk-api.md §2.4-§2.6, §3).

``build_job`` turns a create request's resources into a ``WriteJob`` or raises the
``FatalApiError`` Zoho answers with: the module, the uploaded file (same org and product),
its one CSV (encoding, delimiter, 200 columns, 25,000 rows), ``find_by`` and the
``field_mappings`` (known, writable fields, lookups, date formats, mandatory fields mapped,
subform ``Parent_Id`` links).
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from typing import Any

from simulator.bulk_write import WriteJob, WriteResource
from simulator.bulk_write_rows import ColumnMap, java_to_strptime
from simulator.clock import format_time
from simulator.deps import CallContext
from simulator.errors import FatalApiError
from simulator.state import SimState

OPERATIONS = ("insert", "update", "upsert")
MAX_ROWS = 25_000
MAX_COLUMNS = 200
DELIMITERS = ",;:|"


def bad(code: str, message: str, details: dict[str, Any] | None = None) -> FatalApiError:
    """Zoho's 400 answer to a create request it refuses."""
    return FatalApiError(400, code, message, details or {})


def build_job(
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
        raise bad(
            "MANDATORY_NOT_FOUND",
            "required key file_id is not found in request body.",
            {"api_name": "file_id", "json_path": "$.resource[0].file_id"},
        )
    if len(file_ids) > 1:
        raise bad(
            "INVALID_FILE_ID",
            "the resources of a parent/child import must share one file_id",
            {"api_name": "file_id"},
        )
    uploaded = state.uploads.get(str(file_id))
    if uploaded is None or (uploaded.org_key, uploaded.product) != (ctx.org.key, ctx.product):
        raise bad("INVALID_FILE_ID", "improper file id", {"api_name": "file_id"})
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
        raise bad(
            "INVALID_DATA",
            "each resource of a parent/child import needs its own CSV",
            {"api_name": "file_names"},
        )
    module = built[0].module
    org = ctx.org
    registry = state.write_jobs
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
        raise bad("INVALID_DATA", "invalid data", {"api_name": "type", "json_path": path})
    module_ref = resource.get("module")
    if ctx.product == "recruit" and isinstance(module_ref, dict):
        # Recruit v2 takes "the same keys as CRM v2" (§3): module is a string there; the
        # {"api_name": ...} object is CRM v2.1+ (§6).
        raise bad(
            "INVALID_DATA",
            "invalid data",
            {"api_name": "module", "json_path": f"{path}.module", "expected_data_type": "String"},
        )
    module = module_ref.get("api_name") if isinstance(module_ref, dict) else module_ref
    if not module:
        raise bad(
            "MANDATORY_NOT_FOUND",
            "required key module is not found in request body.",
            {"api_name": "module", "json_path": f"{path}.module"},
        )
    store = state.store(ctx.org.key, ctx.product, str(module))
    if store is None:
        raise bad("MODULE_NOT_AVAILABLE", f"Requested module '{module}' is not available.")
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
        raise bad(
            "INVALID_DATA",
            f"{module} is not a subform of {parent.module}; the parent resource comes first",
            {"api_name": "module", "json_path": f"{path}.module"},
        )
    file_names = resource.get("file_names")
    if count > 1 and not file_names:
        raise bad(
            "MANDATORY_NOT_FOUND",
            "required key file_names is not found in request body.",
            {"api_name": "file_names", "json_path": f"{path}.file_names"},
        )
    find_by = resource.get("find_by")
    if parent is None and operation in ("update", "upsert") and not find_by:
        raise bad(
            "MANDATORY_NOT_FOUND",
            "Required key find_by is not available",
            {"api_name": "find_by", "json_path": f"{path}.find_by"},
        )
    if find_by and find_by != "id":
        spec = schema.field(str(find_by))
        if spec is None:
            raise bad("INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": find_by})
        if not spec.unique:
            raise bad("INVALID_DATA", "find_by must be a unique field or id", {"api_name": find_by})
    csv_name, header, rows = _read_csv(data, ctx.product, file_names, encoding)
    columns, echo, parent_columns = _columns(
        resource.get("field_mappings"), header, schema, state, ctx, n,
        parent.header if parent is not None else None,
    )  # fmt: skip
    mapped = {c.api_name for c in columns}
    if find_by and find_by not in mapped:
        raise bad(
            "MANDATORY_NOT_FOUND",
            f"the find_by field {find_by} is not mapped",
            {"api_name": find_by, "json_path": f"{path}.field_mappings"},
        )
    if operation in ("insert", "upsert") or parent is not None:
        unmapped = [f.api_name for f in schema.fields if f.mandatory and f.api_name not in mapped]
        if unmapped:
            raise bad(
                "MANDATORY_FIELDS_NOT_MAPPED",
                "All mandatory fields are not mapped for the layout",
                {"api_names": unmapped},
            )
    link = None
    if schema.parent_module is not None:
        parent_id = next((c for c in columns if c.api_name == "Parent_Id"), None)
        if parent_id is None or parent_id.index is None:
            raise bad(
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
            raise bad(
                "FILE_NOT_SUPPORTED",
                "File not supported for bulk write",
                {"reason": f"the zip holds {len(names)} files; Recruit takes one CSV per zip"},
            )
        if file_names:
            if not isinstance(file_names, list) or len(file_names) != 1:
                raise bad("FILE_NOT_SUPPORTED", "File not supported for bulk write")
            if file_names[0] not in names:
                raise bad("INVALID_DATA", "invalid data", {"api_name": "file_names"})
            names = [str(file_names[0])]
        elif len(names) != 1:
            raise bad(
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
        raise bad("INVALID_DATA", "the file is not in the declared character encoding") from None
    first = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first.count) if first else ","
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not table or not table[0]:
        raise bad("FILE_NOT_SUPPORTED", "File not supported for bulk write", {"reason": "empty"})
    header, rows = table[0], [r for r in table[1:] if r]
    if len(header) > MAX_COLUMNS:
        raise bad(
            "FILE_NOT_SUPPORTED",
            "File not supported for bulk write",
            {"reason": f"{len(header)} columns, the limit is {MAX_COLUMNS}"},
        )
    if len(rows) > MAX_ROWS:
        raise bad(
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
        raise bad("INVALID_DATA", "invalid data", {"api_name": "field_mappings"})
    if len(mappings) > MAX_COLUMNS:
        raise bad(
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
            raise bad(
                "MANDATORY_NOT_FOUND",
                "required key api_name is not found in request body.",
                {"api_name": "api_name", "json_path": f"{path}.api_name"},
            )
        api = str(item["api_name"])
        spec = schema.field(api)
        if api != "id" and spec is None:
            raise bad(
                "INVALID_FIELD", f"invalid mapping. invalid api_name {api}", {"api_name": api}
            )
        if spec is not None and spec.read_only:
            raise bad("INVALID_FIELD", f"field {api} is read only", {"api_name": api})
        index = item.get("index")
        default = item.get("default_value")
        default_text = None
        if isinstance(default, dict) and default.get("value") is not None:
            value = default["value"]
            default_text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if index is None and default_text is None:
            raise bad(
                "MISSING_REQUIRED_KEY",
                f"required key index for field {api} is not found in request body.",
                {"api_name": api, "json_path": f"{path}.index"},
            )
        if index is not None and (
            isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(header)
        ):
            raise bad(
                "COLUMN_INDEX_NOT_FOUND",
                f"column index {index} of field {api} is not in the file",
                {"api_name": api, "json_path": f"{path}.index"},
            )
        fmt = item.get("format")
        if fmt is not None and spec is not None and spec.data_type in ("date", "datetime"):
            try:
                java_to_strptime(str(fmt))
            except ValueError:
                raise bad(
                    "INVALID_FORMAT", f"invalid format {fmt} for {api}", {"api_name": api}
                ) from None
        find_by = item.get("find_by")
        parent_index = item.get("parent_column_index")
        if parent_index is not None:
            if parent_header is None:
                raise bad(
                    "INVALID_DATA",
                    "parent_column_index is only for child resources of a parent/child import",
                    {"api_name": api, "json_path": f"{path}.parent_column_index"},
                )
            if (
                isinstance(parent_index, bool)
                or not isinstance(parent_index, int)
                or not 0 <= parent_index < len(parent_header)
            ):
                raise bad(
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
            raise bad("INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": spec.api_name})
        return
    if spec.data_type != "lookup":
        raise bad(
            "INVALID_DATA", f"find_by is only for lookup fields, not {spec.api_name}",
            {"api_name": spec.api_name},
        )  # fmt: skip
    parent = state.schema(ctx.org.key, ctx.product, spec.lookup or "")
    if find_by != "id" and (parent is None or parent.field(find_by) is None):
        raise bad("INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": spec.api_name})
