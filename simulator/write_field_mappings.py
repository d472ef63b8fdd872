"""A bulk write resource's ``field_mappings`` checked as Zoho checks them (docs §2.4-§2.6).

`check_field_mappings` validates each mapping against the module's fields (known, writable,
one per field, index inside the CSV header, lookups with a valid ``find_by``, date formats,
mandatory fields mapped, subform ``parent_column_index`` links) and returns the columns the
job will read, the echoed ``field_mappings`` and the parent column indexes. Raises the
``FatalApiError`` Zoho answers with.
"""

from __future__ import annotations

from typing import Any

from simulator.bulk_write_rows import ColumnMap, java_to_strptime
from simulator.deps import CallContext
from simulator.errors import refused_request
from simulator.state import SimState

#: Zoho maps at most this many columns (and reads at most this many from the CSV)
MAX_COLUMNS = 200


def check_field_mappings(
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
        raise refused_request("INVALID_DATA", "invalid data", {"api_name": "field_mappings"})
    if len(mappings) > MAX_COLUMNS:
        raise refused_request(
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
            raise refused_request(
                "MANDATORY_NOT_FOUND",
                "required key api_name is not found in request body.",
                {"api_name": "api_name", "json_path": f"{path}.api_name"},
            )
        api = str(item["api_name"])
        spec = schema.field(api)
        if api != "id" and spec is None:
            raise refused_request(
                "INVALID_FIELD", f"invalid mapping. invalid api_name {api}", {"api_name": api}
            )
        if spec is not None and spec.read_only:
            raise refused_request("INVALID_FIELD", f"field {api} is read only", {"api_name": api})
        index = item.get("index")
        default = item.get("default_value")
        default_text = None
        if isinstance(default, dict) and default.get("value") is not None:
            value = default["value"]
            default_text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if index is None and default_text is None:
            raise refused_request(
                "MISSING_REQUIRED_KEY",
                f"required key index for field {api} is not found in request body.",
                {"api_name": api, "json_path": f"{path}.index"},
            )
        if index is not None and (
            isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(header)
        ):
            raise refused_request(
                "COLUMN_INDEX_NOT_FOUND",
                f"column index {index} of field {api} is not in the file",
                {"api_name": api, "json_path": f"{path}.index"},
            )
        fmt = item.get("format")
        if fmt is not None and spec is not None and spec.data_type in ("date", "datetime"):
            try:
                java_to_strptime(str(fmt))
            except ValueError:
                raise refused_request(
                    "INVALID_FORMAT", f"invalid format {fmt} for {api}", {"api_name": api}
                ) from None
        find_by = item.get("find_by")
        parent_index = item.get("parent_column_index")
        if parent_index is not None:
            if parent_header is None:
                raise refused_request(
                    "INVALID_DATA",
                    "parent_column_index is only for child resources of a parent/child import",
                    {"api_name": api, "json_path": f"{path}.parent_column_index"},
                )
            if (
                isinstance(parent_index, bool)
                or not isinstance(parent_index, int)
                or not 0 <= parent_index < len(parent_header)
            ):
                raise refused_request(
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
            raise refused_request(
                "INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": spec.api_name}
            )
        return
    if spec.data_type != "lookup":
        raise refused_request(
            "INVALID_DATA", f"find_by is only for lookup fields, not {spec.api_name}",
            {"api_name": spec.api_name},
        )  # fmt: skip
    parent = state.schema(ctx.org.key, ctx.product, spec.lookup or "")
    if find_by != "id" and (parent is None or parent.field(find_by) is None):
        raise refused_request(
            "INVALID_FIELD", f"invalid find_by {find_by}", {"api_name": spec.api_name}
        )
