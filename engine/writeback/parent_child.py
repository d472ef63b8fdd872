"""Parent/child writes: a parent module and its subform rows in one zip, one job (CRM).

docs/zoho-bulk-api.md §2.2/§2.4: one CSV per module in the zip, ``resource[]`` with the
parent first, each resource naming its CSV in ``file_names`` and sharing the upload's
``file_id``; a subform resource maps ``Parent_Id``. Children here link to parent rows of
the same batch, so they work for parents that do not exist yet:

- the parent CSV gets a first, unmapped column ``_parent_key`` holding the parent
  table's ``parent_key`` column (unique among the rows sent);
- each child CSV gets a first column ``_parent_key`` with the child's
  ``ChildWrite.parent_key`` value, mapped as
  ``{"api_name": "Parent_Id", "index": 0, "parent_column_index": 0}``, so Zoho joins the
  child row to the record its parent row created, updated or matched (UNCERTAIN reading
  of ``parent_column_index``; the simulator implements it so).

Pre-flight runs for every module (the child without ``Parent_Id``, which is supplied by
the link). A child row whose key names no parent row that is sent is rejected before
sending (``INVALID_DATA`` on ``Parent_Id``), as are parent keys that repeat. A parent
with more than 200 rows of one child module (Zoho's subform limit) is rejected before
sending with all its children (``LIMIT_EXCEEDED``, naming the parent key). The batch
is one job: at most 25,000 rows per CSV (split bigger batches by parent). Results are
reconciled per module with the same per-row table as `write_table`
(``rows == added + updated + skipped + failed + rejected`` for each).

Recruit has no parent/child imports (one CSV per zip, §3).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.fields import FieldSpec
from engine.writeback.driver import BULK_WRITE_CREATE_CREDITS
from engine.writeback.parent_child_preflight import (
    PARENT_ID,
    ChildWrite,
    child_preflight,
    crowded_parents,
    link_values,
    parent_preflight,
    reject_crowded_parents,
)
from engine.writeback.send import BulkWriter
from engine.writeback.state import ChunkRun
from transforms.writeback.csv_builder import (
    DEFAULT_COMPRESSLEVEL,
    MAX_ZIP_BYTES,
    csv_buffer,
    zip_members,
)
from transforms.writeback.errors import PreflightError, ResumeStateError
from transforms.writeback.mapping import WriteMapping
from transforms.writeback.reconcile import (
    ChunkOutcome,
    read_result_csv,
    read_result_csvs,
    reconcile,
    result_limits,
    summarize,
)
from transforms.writeback.validate import (
    Preflight,
    PreflightPolicy,
    enforce_policy,
)

log = logging.getLogger("engine.writeback.parent_child")

LINK_HEADER = "_parent_key"


@dataclass
class ParentChildReport:
    """Per-module results of one parent/child job (modules in ``resource[]`` order)."""

    modules: tuple[str, ...]
    results: dict[str, pa.Table] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    issues: dict[str, pa.Table] = field(default_factory=dict)
    file_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    file_id: str | None = None
    job_id: str | None = None
    zipped_bytes: int = 0
    failure: str | None = None
    credits_estimate: int = 0


def write_parent_child(
    parent_table: pa.Table,
    parent_mapping: WriteMapping,
    parent_fields: Iterable[FieldSpec] | Mapping[str, FieldSpec],
    children: Sequence[ChildWrite],
    writer: BulkWriter | None = None,
    *,
    parent_key: str,
    dry_run: bool = False,
    policy: PreflightPolicy | None = None,
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
    saved: ChunkRun | None = None,
    on_progress: Callable[[ChunkRun], None] | None = None,
    job_index: int = 0,
) -> ParentChildReport:
    """Validate, zip, send and reconcile a parent table and its child tables in one job.

    ``parent_key``: the parent table's column whose values the children's
    ``ChildWrite.parent_key`` columns hold. ``dry_run``: pre-flight and zip only (zero
    write credits); ``report.counts`` then gives rows / valid / rejected per module.
    ``on_progress`` is called with the job's `ChunkRun` around each step (to save it);
    ``saved`` is that run as saved by an interrupted earlier call with the same rows: its
    file id is reused and its job polled, so nothing is sent twice. ``job_index``: which
    job of a write split by parent this is.
    """
    if not children:
        raise ValueError("a parent/child write needs at least one child")
    if not dry_run and writer is None:
        raise ValueError("a writer is needed unless dry_run=True")
    policy = policy or PreflightPolicy()
    parent_pre = parent_preflight(parent_table, parent_mapping, parent_fields, policy)
    sent_keys = link_values(parent_table, parent_mapping.module, parent_key)
    crowded = [crowded_parents(child) for child in children]
    parent_pre = reject_crowded_parents(parent_pre, sent_keys, children, crowded)
    parent_keys = pc.if_else(pa.array(parent_pre.valid), sent_keys, pa.scalar(None, pa.string()))
    child_pres = [
        child_preflight(child, parent_keys, policy, over)
        for child, over in zip(children, crowded, strict=True)
    ]
    for pre in (parent_pre, *child_pres):
        enforce_policy(pre, policy)
    modules = (parent_mapping.module, *(c.mapping.module for c in children))
    report = ParentChildReport(modules=modules)
    for pre in (parent_pre, *child_pres):
        report.issues[pre.mapping.module] = pre.issues
    members, resources = _members(parent_pre, sent_keys, children, child_pres)
    data = zip_members(members, compresslevel)
    report.zipped_bytes = len(data)
    if len(data) > MAX_ZIP_BYTES:
        raise PreflightError(parent_mapping.module, [f"the zip is {len(data)} bytes, over 25 MB"])
    report.credits_estimate = BULK_WRITE_CREATE_CREDITS
    if dry_run:
        for pre in (parent_pre, *child_pres):
            rejected = int((~pre.valid).sum())
            report.counts[pre.mapping.module] = {
                "rows": pre.total_rows, "valid": pre.total_rows - rejected, "rejected": rejected
            }  # fmt: skip
        return report
    assert writer is not None
    rows = sum(len(p.valid_rows) for p in (parent_pre, *child_pres))
    digest = hashlib.sha256(data).hexdigest()
    run = saved or ChunkRun(job_index, rows, len(data), digest)
    if run.sha256 != digest:
        raise ResumeStateError(
            parent_mapping.module,
            "the input rows differ from the ones the saved write was built from",
        )
    _send(writer, run, data, parent_mapping, resources, on_progress)
    report.file_id, report.job_id = run.file_id, run.job_id
    assert run.job_id is not None
    details = writer.wait_for_job(run.job_id)
    outcomes = _outcomes(writer, details, report, (parent_pre, *child_pres), members, data)
    run.state = "failed" if report.failure else "done"
    run.failure, run.counts = report.failure, _total_counts(report.file_counts)
    if on_progress is not None:
        on_progress(run)
    for pre in (parent_pre, *child_pres):
        module = pre.mapping.module
        report.results[module] = reconcile(pre, outcomes[module])
        report.counts[module] = summarize(report.results[module])
    return report


def _send(
    writer: BulkWriter,
    run: ChunkRun,
    data: bytes,
    mapping: WriteMapping,
    resources: list[dict[str, Any]],
    on_progress: Callable[[ChunkRun], None] | None,
) -> None:
    """Upload unless a file id was saved, create the job unless a job id was saved.

    ``on_progress`` sees the run after the upload, *before* the create call goes out
    (``create_sent``) and after it answered, so a saved state never hides a sent create.
    """

    def saved(state: str | None = None) -> None:
        if state is not None:
            run.state = state
        if on_progress is not None:
            on_progress(run)

    if run.job_id is None and run.create_sent:
        raise ResumeStateError(
            mapping.module,
            f"create-job was sent for file {run.file_id} but its job id was not saved, so "
            "Zoho may have created it. Find the job in Zoho (Setup > Data Administration > "
            f"Import history) and re-run with --attach-job {run.index}=JOB_ID",
        )
    if run.file_id is None:
        run.file_id = writer.upload(data, f"{mapping.module}-parent-child.zip")
        saved("uploaded")
    for resource in resources:
        resource["file_id"] = run.file_id
    if run.job_id is None:
        run.create_sent = True
        saved()
        body = {
            "operation": mapping.operation,
            "ignore_empty": mapping.ignore_empty,
            "character_encoding": "UTF-8",
            "resource": resources,
        }
        run.job_id = writer.create_job(body)
        log.info("parent/child bulk write job %s created (%s)", run.job_id, mapping.module)
        saved("created")


def _total_counts(file_counts: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in file_counts.values():
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value
    return total


def _members(
    parent: Preflight,
    parent_keys: pa.Array,
    children: Sequence[ChildWrite],
    child_pres: Sequence[Preflight],
) -> tuple[list[tuple[str, pa.Buffer]], list[dict[str, Any]]]:
    """The CSVs (parent first) and their ``resource[]`` entries (file_id filled later)."""
    sent = parent.valid_rows
    repeated = _repeated(parent_keys.take(pa.array(sent)))
    if repeated:
        raise PreflightError(
            parent.mapping.module, [f"parent keys repeat, so children are ambiguous: {repeated}"]
        )
    members = [_csv(parent, parent_keys)]
    resources = [_resource(parent, members[0][0], shift=1)]
    for child, pre in zip(children, child_pres, strict=True):
        keys = link_values(child.table, pre.mapping.module, child.parent_key)
        members.append(_csv(pre, keys))
        resource = _resource(pre, members[-1][0], shift=1)
        link = {"api_name": PARENT_ID, "index": 0, "parent_column_index": 0}
        resource["field_mappings"].insert(0, link)
        resources.append(resource)
    return members, resources


def _repeated(keys: pa.Array) -> list[str]:
    counts = pc.value_counts(pc.drop_null(keys)).to_pylist()
    return sorted(str(c["values"]) for c in counts if c["counts"] > 1)[:5]


def _csv(pre: Preflight, keys: pa.Array) -> tuple[str, pa.Buffer]:
    rows = pa.array(pre.valid_rows)
    table = pre.rendered.take(rows)
    table = table.add_column(0, LINK_HEADER, keys.take(rows))
    return f"{pre.mapping.module}.csv", csv_buffer(table)


def _resource(pre: Preflight, name: str, *, shift: int) -> dict[str, Any]:
    mappings = []
    for entry in pre.field_mappings:
        moved = dict(entry)
        if "index" in moved:
            moved["index"] = int(moved["index"]) + shift
        mappings.append(moved)
    resource: dict[str, Any] = {
        "type": "data",
        "module": {"api_name": pre.mapping.module},
        "file_names": [name],
        "field_mappings": mappings,
    }
    if pre.mapping.find_by:
        resource["find_by"] = pre.mapping.find_by
    return resource


def _outcomes(
    writer: BulkWriter,
    details: Mapping[str, Any],
    report: ParentChildReport,
    pres: Sequence[Preflight],
    members: Sequence[tuple[str, pa.Buffer]],
    sent_zip: bytes,
) -> dict[str, list[ChunkOutcome]]:
    job_id = report.job_id
    for resource in details.get("resource") or []:
        module = (resource.get("module") or {}).get("api_name")
        file = resource.get("file") or {}
        report.file_counts[str(module)] = {
            k: int(v) for k, v in file.items() if k.endswith("_count") and v is not None
        }
    url = (details.get("result") or {}).get("download_url")
    status = str(details.get("status", "")).upper()
    if status != "COMPLETED" or not url:
        report.failure = f"job status {details.get('status')!r}" + ("" if url else ", no result")
        return {
            pre.mapping.module: [ChunkOutcome(0, pre.valid_rows, job_id, failure=report.failure)]
            for pre in pres
        }
    data = writer.download_result(str(url))
    limits = result_limits(sent_zip, sum(len(p.valid_rows) for p in pres), len(members))
    csvs = read_result_csvs(data, str(job_id), limits)
    outcomes: dict[str, list[ChunkOutcome]] = {}
    for pre, (name, _) in zip(pres, members, strict=True):
        module = pre.mapping.module
        wanted = f"{module}-{name.rsplit('.', 1)[0]}.csv"
        payload = csvs.get(wanted)
        if payload is None:
            result = None
            failure = f"the result zip has no {wanted}"
        else:
            result, failure = read_result_csv(payload, str(job_id)), None
        outcomes[module] = [ChunkOutcome(0, pre.valid_rows, job_id, result, failure)]
    return outcomes
