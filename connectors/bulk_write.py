"""Bulk write client: upload a zip, create the job, poll it, download its result.

Facts: ``shared/docs/zoho-bulk-api.md`` §2 (CRM v8) and §3 (Recruit v2). Product
differences (upload path, org header, write path, host) come from ``Product`` data:

- upload: ``POST {product's upload host}{product.upload_path}`` with ``feature: bulk-write`` and
  ``X-CRM-ORG`` / ``X-RECRUIT-ORG``; multipart part ``file``; answer not wrapped,
  ``details.file_id`` (``details.id`` is accepted too: UNCERTAIN for Recruit). Upload
  errors that come back with HTTP 200 (``INVALID_FILE_FORMAT``...) and the upload host's
  ``ERROR_CODE`` shape are raised by the HTTP core like any other error;
- create: ``POST {api}{product.bulk_write_path}`` (500 credits), ``details.id``; the body is
  put in the product's shape first (``Product.write_job_body``: Recruit v2 takes
  ``resource[].module`` as a string and ``ignore_empty`` on the resource);
- status: ``GET .../{job_id}``, a bare object (a ``data[]`` wrapper is tolerated); both
  ``IN PROGRESS`` and ``INPROGRESS`` are accepted, as are ``FAILED`` / ``FAILURE``;
- result: a plain GET of ``result.download_url``, absolute on the download host (a
  relative one is joined to that host, as the SDK does). Whether an absolute URL may be
  fetched with the token is the HTTP core's decision (``ZohoHttp``: the org's hosts only).

A lost answer (connection dropped after sending): an upload is sent again (an orphan
``file_id`` creates no records; every send is metered); a create-job is **not** sent again:
``OutcomeUnknownError`` (terminal) says which file and module, because Zoho documents no way
to list bulk write jobs and a second job would write every row twice.

``BulkWriteClient`` satisfies ``engine.writeback.driver.BulkWriter`` (``upload``,
``create_job``, ``wait_for_job``, ``download_result``), so::

    writer = BulkWriteClient.for_client(client)
    report = write_table(table, mapping, client.metadata.fields(mapping.module), writer)

Parent/child imports (CRM only, §2.2/§2.4): one zip holding a CSV per module, one job
whose ``resource[]`` lists the parent first and every child after it, each naming its
CSV in ``file_names`` and all sharing the upload's ``file_id``. Build the body with
``data_resource`` + ``job_body`` (which check those rules before a credit is spent);
``BulkWriteJob.resources`` carries each resource's file counts and ``result_files``
splits the result zip into one CSV per resource.

Resuming after a crash is a matter of calling ``wait_for_job`` / ``reattach`` with the
saved job id (``transforms.writeback.resume_write`` keeps those ids on disk).
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.bulk_read import JobState, PollPolicy
from connectors.client import ZohoClient
from connectors.credits import CallType
from connectors.errors import (
    CorruptZipError,
    JobTimeoutError,
    OutcomeUnknownError,
    UnexpectedResponseError,
)
from connectors.http import ZohoHttp, join_url
from connectors.products import Product

log = logging.getLogger("connectors.bulk_write")

FEATURE_HEADER = {"feature": "bulk-write"}
DOWNLOAD_ATTEMPTS = 3
OPERATIONS = ("insert", "update", "upsert")


@dataclass(frozen=True)
class ResourceFile:
    """One ``resource[]`` entry of a job's status: its module and file counts."""

    module: str
    name: str | None
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_resource(cls, raw: Mapping[str, Any]) -> ResourceFile:
        module = raw.get("module")
        api_name = module.get("api_name") if isinstance(module, Mapping) else module
        file = raw.get("file") if isinstance(raw.get("file"), Mapping) else {}
        return cls(
            module=str(api_name or ""),
            name=str(file["name"]) if file and file.get("name") else None,
            status=str((file or {}).get("status") or raw.get("status") or ""),
            counts=_counts(file or {}),
        )


@dataclass(frozen=True)
class BulkWriteJob:
    """A bulk write job as the status call describes it."""

    id: str
    state: JobState
    raw_status: str
    operation: str | None
    download_url: str | None
    file_counts: Mapping[str, int] = field(default_factory=dict)
    resources: tuple[ResourceFile, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.state.finished

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any], *, path: str) -> BulkWriteJob:
        job_id = detail.get("id")
        if job_id is None:
            raise UnexpectedResponseError("bulk write job without an id", path=path)
        resources = detail.get("resource") or []
        first = resources[0] if resources and isinstance(resources[0], Mapping) else {}
        file = first.get("file") if isinstance(first.get("file"), Mapping) else {}
        counts = _counts(file or {})
        result = detail.get("result") if isinstance(detail.get("result"), Mapping) else {}
        url = (result or {}).get("download_url")
        raw = str(detail.get("status") or first.get("status") or "")
        return cls(
            id=str(job_id),
            state=JobState.parse(raw),
            raw_status=raw,
            operation=detail.get("operation"),
            download_url=str(url) if url else None,
            file_counts=counts,
            resources=tuple(
                ResourceFile.from_resource(r) for r in resources if isinstance(r, Mapping)
            ),
            detail=detail,
        )


class BulkWriteClient:
    """Bulk write jobs for one org and product."""

    def __init__(
        self,
        http: ZohoHttp,
        product: Product,
        base_url: Callable[[], str],
        upload_url: Callable[[], str],
        download_host: str,
        org_headers: Callable[[], dict[str, str]],
        *,
        poll: PollPolicy | None = None,
    ) -> None:
        self.http = http
        self.product = product
        self._base_url = base_url
        self._upload_url = upload_url
        self.download_host = download_host.rstrip("/")
        self._org_headers = org_headers
        self.poll = poll or PollPolicy()

    @classmethod
    def for_client(cls, client: ZohoClient, *, poll: PollPolicy | None = None) -> BulkWriteClient:
        """Build from a ``ZohoClient`` (which needs ``org_id`` for the upload header)."""
        return cls(
            client.http,
            client.product,
            client.base_url,
            client.upload_url,
            client.endpoints.download,
            client.org_headers,
            poll=poll or client.bulk_read.poll,
        )

    # -- steps ------------------------------------------------------------------------

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        """Upload one zip; return its ``file_id`` (1 credit, UNCERTAIN)."""
        url = self._upload_url()
        headers = {**FEATURE_HEADER, **self._org_headers()}

        def files() -> dict[str, Any]:
            return {"file": (filename, io.BytesIO(zip_bytes), "application/zip")}

        # Sent again when the answer is lost: an orphan file id creates no records.
        sent = self.http.request_json_resending(
            "POST", url, call_type=CallType.BULK_WRITE_UPLOAD, files=files, headers=headers
        )
        payload = sent.payload
        if sent.unanswered:
            log.warning("upload of %s: %d earlier send(s) got no answer", filename, sent.unanswered)
        details = payload.get("details") if isinstance(payload, Mapping) else None
        file_id = None
        if isinstance(details, Mapping):
            file_id = details.get("file_id", details.get("id"))
        if not file_id:
            raise UnexpectedResponseError("upload answer without details.file_id", path=url)
        log.info("uploaded %s (%d bytes) as file %s", filename, len(zip_bytes), file_id)
        return str(file_id)

    def create_job(self, body: Mapping[str, Any]) -> str:
        """Create a bulk write job (500 credits); return its id.

        Never sent twice: when the answer is lost after sending, ``OutcomeUnknownError``
        names the module and file so the user can check Zoho before writing again.
        """
        url = self._jobs_url()
        body = self.product.write_job_body(body)
        try:
            payload = self.http.request_json(
                "POST", url, call_type=CallType.BULK_WRITE_CREATE, json=body
            )
        except OutcomeUnknownError as exc:
            raise OutcomeUnknownError(
                f"bulk write create for {_describe(body)}: {exc.message}",
                method=exc.method,
                path=exc.path,
                hint=(
                    "check the module's import history in Zoho (Setup > Data Administration "
                    "> Import History) before writing these rows again: if the job is there, "
                    "its rows are written or being written; if not, nothing was written"
                ),
            ) from None
        entry = _unwrap(payload)
        details = entry.get("details") if isinstance(entry.get("details"), Mapping) else entry
        job_id = details.get("id") if isinstance(details, Mapping) else None
        if not job_id:
            raise UnexpectedResponseError("create-job answer without details.id", path=url)
        log.info("created %s bulk write job %s", self.product.label, job_id)
        return str(job_id)

    def get_job(self, job_id: str) -> BulkWriteJob:
        url = f"{self._jobs_url()}/{job_id}"
        payload = self.http.request_json("GET", url, call_type=CallType.BULK_WRITE_STATUS)
        return BulkWriteJob.from_detail(_unwrap(payload), path=url)

    def reattach(self, job_id: str) -> BulkWriteJob:
        """Pick up a job created before a crash (no rows are sent again)."""
        job = self.get_job(job_id)
        log.info("re-attached to bulk write job %s (status %s)", job.id, job.raw_status)
        return job

    def wait(
        self, job_id: str, *, on_poll: Callable[[BulkWriteJob], None] | None = None
    ) -> BulkWriteJob:
        """Poll until the job is COMPLETED or FAILED and return it (FAILED is not raised)."""
        deadline = self.poll.clock() + self.poll.timeout
        for interval in self.poll.intervals():
            job = self.get_job(job_id)
            if on_poll is not None:
                on_poll(job)
            if job.finished:
                return job
            remaining = deadline - self.poll.clock()
            if remaining <= 0:
                raise JobTimeoutError(
                    f"bulk write job {job_id} still {job.raw_status} after "
                    f"{self.poll.timeout:.0f} s",
                    job_id=job_id,
                    path=f"{self.product.bulk_write_path}/{job_id}",
                )
            self.poll.sleep(min(interval, remaining))
        raise AssertionError("unreachable: intervals() is infinite")

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        """``BulkWriter`` protocol: the final job details with ``status`` normalised."""
        job = self.wait(job_id)
        status = "COMPLETED" if job.state is JobState.COMPLETED else "FAILED"
        return {**job.detail, "status": status}

    def download_result(self, download_url: str) -> bytes:
        """GET the result zip (absolute URL; a relative one goes to the download host)."""
        url = join_url(self.download_host, download_url)
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            response = self.http.request("GET", url, call_type=CallType.BULK_WRITE_DOWNLOAD)
            data = response.content
            if _valid_zip(data):
                return data
            log.warning("bulk write result from %s is not a valid zip (try %d)", url, attempt)
        raise CorruptZipError(
            f"the result zip is damaged after {DOWNLOAD_ATTEMPTS} downloads", path=url
        )

    def _jobs_url(self) -> str:
        return self._base_url() + self.product.bulk_write_path


def data_resource(
    module: str,
    file_id: str,
    field_mappings: Sequence[Mapping[str, Any]],
    *,
    file_name: str | None = None,
    find_by: str | None = None,
) -> dict[str, Any]:
    """One ``resource[]`` entry; ``file_name`` (its CSV in the zip) goes to ``file_names``."""
    resource: dict[str, Any] = {
        "type": "data",
        "module": {"api_name": module},
        "file_id": str(file_id),
        "field_mappings": [dict(m) for m in field_mappings],
    }
    if file_name is not None:
        resource["file_names"] = [file_name]
    if find_by is not None:
        resource["find_by"] = find_by
    return resource


def job_body(
    operation: str,
    resources: Sequence[Mapping[str, Any]],
    *,
    ignore_empty: bool | None = None,
    character_encoding: str | None = None,
    callback_url: str | None = None,
) -> dict[str, Any]:
    """A create-job body; with several resources (parent first) checks the parent/child rules.

    Raises ``ValueError`` (nothing sent, no credit spent) for an unknown operation, no
    resource, or a parent/child body whose resources lack ``file_names``, share no
    ``file_id``, or name one CSV twice. A child's ``Parent_Id`` mapping (``find_by: id``
    or ``parent_column_index``) is checked by Zoho, which knows which modules are subforms.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {OPERATIONS}, not {operation!r}")
    if not resources:
        raise ValueError("a bulk write job needs at least one resource")
    if len(resources) > 1:
        names = [r.get("file_names") for r in resources]
        if any(not n for n in names):
            raise ValueError("a parent/child import needs file_names on every resource")
        flat = [str(n[0]) for n in names if n]
        if len(set(flat)) != len(flat):
            raise ValueError(f"each resource needs its own CSV, got {flat}")
        if len({str(r.get("file_id")) for r in resources}) != 1:
            raise ValueError("the resources of a parent/child import share one file_id")
    body: dict[str, Any] = {"operation": operation, "resource": [dict(r) for r in resources]}
    if ignore_empty is not None:
        body["ignore_empty"] = ignore_empty
    if character_encoding is not None:
        body["character_encoding"] = character_encoding
    if callback_url is not None:
        body["callback"] = {"url": callback_url, "method": "post"}
    return body


def result_files(zip_bytes: bytes) -> dict[str, bytes]:
    """The CSVs of a result zip by name (``{Module}-{csv stem}.csv``, one per resource)."""
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            return {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
    except zipfile.BadZipFile as exc:
        raise CorruptZipError(f"the result zip cannot be read: {exc}", path="result") from None


def _describe(body: Mapping[str, Any]) -> str:
    """``Leads (operation insert, file 123)``: what a create-job body was about."""
    resources = body.get("resource") or []
    first = resources[0] if resources and isinstance(resources[0], Mapping) else {}
    module = first.get("module")
    name = module.get("api_name") if isinstance(module, Mapping) else module
    return f"{name or '?'} (operation {body.get('operation')}, file {first.get('file_id')})"


def _counts(file: Mapping[str, Any]) -> dict[str, int]:
    return {
        k: int(v)
        for k, v in file.items()
        if k.endswith("_count") and isinstance(v, int | str) and str(v).isdigit()
    }


def _unwrap(payload: Any) -> Mapping[str, Any]:
    """Bulk write answers are bare objects; tolerate a ``data[]`` wrapper anyway."""
    if isinstance(payload, Mapping):
        data = payload.get("data")
        if isinstance(data, list) and data and isinstance(data[0], Mapping):
            return data[0]
        return payload
    return {}


def _valid_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except zipfile.BadZipFile:
        return False
