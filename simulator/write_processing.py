"""Processing a bulk write job: rows into the org's records, the result zip, the callback.

Jobs of one server are processed one at a time (``WriteRegistry.process_lock``) in a
background thread started when the job is created (``simulator.routes_bulk_write``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile

from simulator.bulk_write import (
    COMPLETED,
    FAILED,
    RECORD_CODES,
    WriteJob,
    WriteRegistry,
    WriteResource,
)
from simulator.bulk_write_rows import RowProcessor
from simulator.state import SimState

RESULT_ECHO_COLUMNS = 3


def block_record(
    state: SimState, org_key: str, product: str, module: str, record_id: str, code: str
) -> None:
    """Admin: writes to this record fail with ``code`` (``NOT_APPROVED`` / ``BLOCKED_RECORD``)."""
    if code not in RECORD_CODES:
        raise ValueError(f"code must be one of {RECORD_CODES}")
    state.write_jobs.blocked[(org_key, product, module, record_id)] = code


def wait_write_jobs(state: SimState, timeout: float = 30.0) -> None:
    """Block until every write job's processing has finished (tests)."""
    registry = state.write_jobs
    with registry.lock:
        jobs = list(registry.jobs.values())
    for job in jobs:
        job.done.wait(timeout)


def process_job(
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
