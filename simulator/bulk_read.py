"""Bulk read jobs (CRM v8 and Recruit v2): query validation, lifecycle, page tokens.

``parse_query`` checks a create-job body the way Zoho does and returns a ``ReadSpec``;
``BulkReadJob`` holds one job. Its ``state`` follows from elapsed simulator time
(``ADDED`` for the first 15 % of its processing time, ``QUEUED`` to 35 %, then
``IN PROGRESS`` until the processing time is over *and* the worker thread has written the
zip), ending ``COMPLETED`` or ``FAILURE``. A page token is a signed, self-contained
``PageCursor`` (see ``simulator.cursors``): the query plus where the next page starts
(``start_slot``), so it also works after a simulator restart with the same seed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.criteria import Condition, Group, echo_criteria, parse_criteria, resolve_field
from simulator.errors import FatalApiError, InvalidQueryError
from simulator.pages import PageOutcome
from simulator.schema import BULK_UNSUPPORTED_MODULES, ModuleSchema

ADDED, QUEUED, IN_PROGRESS, COMPLETED, FAILURE = (
    "ADDED",
    "QUEUED",
    "IN PROGRESS",
    "COMPLETED",
    "FAILURE",
)
FAILURE_MESSAGE = {
    "status": "error",
    "code": "INTERNAL_SERVER_ERROR",
    "message": "Internal server error occurred.",
    "details": {},
}


@dataclass(frozen=True)
class PageCursor:
    """What a page token stands for: the same query, continued at ``start_slot``."""

    org_key: str
    user_id: str
    product: str
    module: str
    fields: tuple[str, ...]  # the CSV columns of every page
    fields_given: tuple[str, ...] | None  # as the first job asked (echoed in details)
    criteria_raw: Any
    start_slot: int
    page: int  # page number the token's job will report
    created_at: float

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = list(self.fields)
        data["fields_given"] = None if self.fields_given is None else list(self.fields_given)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageCursor:
        given = data["fields_given"]
        return cls(
            org_key=str(data["org_key"]),
            user_id=str(data["user_id"]),
            product=str(data["product"]),
            module=str(data["module"]),
            fields=tuple(str(f) for f in data["fields"]),
            fields_given=None if given is None else tuple(str(f) for f in given),
            criteria_raw=data["criteria_raw"],
            start_slot=int(data["start_slot"]),
            page=int(data["page"]),
            created_at=float(data["created_at"]),
        )


@dataclass(frozen=True)
class ReadSpec:
    """A validated bulk read request."""

    product: str
    module: str
    fields: list[str]  # CSV columns (without the implicit id)
    fields_given: list[str] | None
    criteria: Condition | Group | None
    criteria_raw: Any
    page: int
    start_slot: int
    skip_pages: int  # whole pages of matches to skip from start_slot
    page_token: str | None
    callback: dict[str, Any] | None
    file_type: str = "csv"


@dataclass
class BulkReadJob:
    id: str
    org_key: str
    product: str
    spec: ReadSpec
    created_at: float
    processing_seconds: float
    will_fail: bool
    created_by: dict[str, str]
    created_time: str
    module_id: str
    zip_path: Path
    per_page: int
    done: threading.Event = field(default_factory=threading.Event)
    outcome: PageOutcome | None = None
    finished_at: float | None = None
    worker_error: str | None = None
    next_page_token: str | None = None
    callback_sent: bool = False

    def state(self, now: float) -> str:
        elapsed = now - self.created_at
        if elapsed < 0.15 * self.processing_seconds:
            return ADDED
        if elapsed < 0.35 * self.processing_seconds:
            return QUEUED
        if elapsed < self.processing_seconds or not self.done.is_set():
            return IN_PROGRESS
        return FAILURE if self.will_fail or self.worker_error else COMPLETED

    def completed_at(self) -> float:
        return max(self.created_at + self.processing_seconds, self.finished_at or 0.0)

    def query_echo(self) -> dict[str, Any]:
        spec = self.spec
        module: Any = {"id": self.module_id, "api_name": spec.module}
        if self.product == "recruit":
            module = spec.module
        echo: dict[str, Any] = {"module": module}
        if spec.fields_given is not None:
            echo["fields"] = spec.fields_given
        if spec.criteria_raw is not None:
            echo["criteria"] = echo_criteria(spec.criteria_raw, lambda _name: None)
        echo["page"] = spec.page
        if spec.page_token:
            echo["page_token"] = spec.page_token
        return echo

    def detail(self, now: float, api_prefix: str) -> dict[str, Any]:
        """The JobDetail object of job details and callbacks."""
        state = self.state(now)
        detail: dict[str, Any] = {
            "id": self.id,
            "operation": "read",
            "state": state,
            "query": self.query_echo(),
            "created_by": self.created_by,
            "created_time": self.created_time,
        }
        if state == COMPLETED and self.outcome is not None:
            result: dict[str, Any] = {
                "page": self.spec.page,
                "per_page": self.per_page,
                "count": self.outcome.count,
                "download_url": f"{api_prefix}/read/{self.id}/result",
                "more_records": self.outcome.more_records,
            }
            if self.next_page_token:
                result["next_page_token"] = self.next_page_token
            detail["result"] = result
        elif state == FAILURE:
            detail["result"] = {"error_message": dict(FAILURE_MESSAGE)}
        detail["file_type"] = self.spec.file_type
        return detail


def _mandatory(name: str) -> InvalidQueryError:
    return InvalidQueryError(
        "MANDATORY_NOT_FOUND",
        f"required key {name} is not found in request body.",
        {"api_name": name},
    )


def _invalid(api_name: str, message: str, **extra: Any) -> InvalidQueryError:
    return InvalidQueryError("INVALID_DATA", message, {"api_name": api_name, **extra})


def parse_query(
    body: Any,
    product: str,
    schema_of: Callable[[str], ModuleSchema | None],
    cursor_of: Callable[[str], PageCursor],
    max_page: int,
    max_fields: int,
    max_criteria: int,
) -> ReadSpec:
    """Validate a create-job body (``cursor_of`` resolves or rejects a page token)."""
    if not isinstance(body, dict):
        raise FatalApiError(
            400, "REQUEST_BODY_NOT_SUPPORTED", "request body contains invalid format"
        )
    callback = _callback(body.get("callback"))
    file_type = body.get("file_type") or "csv"
    query = body.get("query")
    if not isinstance(query, dict):
        raise _mandatory("query")
    file_type = query.get("file_type") or file_type
    if file_type != "csv":
        raise _invalid("file_type", "only csv is supported for this module", value=file_type)
    if "cvid" in query:
        raise InvalidQueryError(
            "CVID_NOT_SUPPORTED",
            "custom views are not supported by the simulator",
            {"api_name": "cvid"},
        )
    token = query.get("page_token")
    if token is not None:
        if product != "crm":
            raise _invalid("page_token", "page_token is not supported in this API version")
        if not isinstance(token, str):
            raise _invalid("page_token", "invalid page_token")
        cursor = cursor_of(token)
        schema = schema_of(cursor.module)
        if schema is None:
            raise _invalid("page_token", "the module of the page_token is no longer available")
        criteria = (
            parse_criteria(cursor.criteria_raw, schema, schema_of, max_criteria)
            if cursor.criteria_raw is not None
            else None
        )
        return ReadSpec(
            product=product,
            module=cursor.module,
            fields=list(cursor.fields),
            fields_given=None if cursor.fields_given is None else list(cursor.fields_given),
            criteria=criteria,
            criteria_raw=cursor.criteria_raw,
            page=cursor.page,
            start_slot=cursor.start_slot,
            skip_pages=0,
            page_token=token,
            callback=callback,
            file_type=file_type,
        )
    module = _module_name(query.get("module"))
    if module in BULK_UNSUPPORTED_MODULES:
        raise InvalidQueryError(
            "MODULE_NOT_SUPPORTED",
            f"the module {module} is not supported in bulk read",
            {"api_name": module},
        )
    schema = schema_of(module)
    if schema is None:
        raise InvalidQueryError(
            "MODULE_NOT_AVAILABLE",
            f"Requested module '{module}' is not available.",
            {"api_name": module},
        )
    fields_given, fields = _fields(query, schema, schema_of, max_fields)
    page = query.get("page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise _invalid("page", "page must be a positive integer", expected_data_type="integer")
    if page > max_page:
        raise InvalidQueryError(
            "PAGE_RANGE_EXCEEDED", f"page must not exceed {max_page}", {"max_limit": max_page}
        )
    raw_criteria = query.get("criteria")
    criteria = (
        parse_criteria(raw_criteria, schema, schema_of, max_criteria) if raw_criteria else None
    )
    return ReadSpec(
        product=product,
        module=module,
        fields=fields,
        fields_given=fields_given,
        criteria=criteria,
        criteria_raw=raw_criteria or None,
        page=page,
        start_slot=0,
        skip_pages=page - 1,
        page_token=None,
        callback=callback,
        file_type=file_type,
    )


def _module_name(raw: Any) -> str:
    name = raw.get("api_name") if isinstance(raw, dict) else raw
    if name is None:
        raise _mandatory("module")
    if not isinstance(name, str) or not name:
        raise _invalid("module", "invalid module")
    return name


def _fields(
    query: dict[str, Any],
    schema: ModuleSchema,
    schema_of: Callable[[str], ModuleSchema | None],
    max_fields: int,
) -> tuple[list[str] | None, list[str]]:
    raw = query.get("fields", query.get("select_fields"))
    if raw is None or raw == []:
        return None, ["id", *schema.bulk_names]
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise _invalid("fields", "fields must be an array of field API names")
    given = list(dict.fromkeys(raw))
    if len(given) > max_fields:
        # Zoho: asking for more than 200 fields exports all fields
        return given, ["id", *schema.bulk_names]
    for name in given:
        if resolve_field(name, schema, schema_of) is None:
            raise _invalid(name, f"the field {name} is not available in {schema.module}")
        spec = schema.field(name)
        if spec is not None and spec.external:
            # "External fields are not supported in Bulk Read" (§1.1, [AWS-GLUE]); Zoho's
            # exact code and message for it are UNCERTAIN.
            raise _invalid(name, f"external field {name} is not supported in bulk read")
    return given, given


def _callback(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidQueryError("INVALID_CALLBACK_URL", "invalid callback", {"api_name": "url"})
    url = raw.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidQueryError(
            "INVALID_CALLBACK_URL", "the callback url is invalid", {"api_name": "url"}
        )
    method = raw.get("method", "post")
    if not isinstance(method, str) or method.lower() != "post":
        raise InvalidQueryError(
            "INVALID_CALLBACK_METHOD",
            "only post is supported for callback",
            {"supported_callback_methods": ["post"]},
        )
    return {"url": url, "method": "post"}
