"""Bulk write steps 2-4: create job, job details, result download (docs §2.4-§2.8, §3).

This module is the model: constants, ``WriteResource``, ``WriteJob`` and ``WriteRegistry``
(one per ``SimState``: ``state.write_jobs``). Requests are checked in
``simulator.write_requests``, jobs processed in ``simulator.write_processing`` and served by
``simulator.routes_bulk_write``.

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

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from simulator.bulk_write_rows import ColumnMap, RowResult

ADDED, IN_PROGRESS, COMPLETED, FAILED = "ADDED", "IN PROGRESS", "COMPLETED", "FAILED"
RECORD_CODES = ("NOT_APPROVED", "BLOCKED_RECORD")


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
    """Write jobs and admin marks of one ``SimState`` (``state.write_jobs``; fresh on reset)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process_lock = threading.Lock()
        self.jobs: dict[str, WriteJob] = {}
        self.counter = itertools.count(1)
        #: (org, product, module, record id) -> NOT_APPROVED / BLOCKED_RECORD
        self.blocked: dict[tuple[str, str, str, str], str] = {}
