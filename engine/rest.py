"""Small deltas through REST Get Records, and deleted-record capture.

REST answers JSON records; ``records_to_zip`` writes them in the bulk-read CSV form (lookups as
their id, multi-select joined with ``;``, booleans ``true``/``false``, empty for null) inside a
``{name}.zip``, so one loader (``transforms.load_page``) handles bulk pages and REST deltas
alike and the warehouse cannot tell them apart.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.credits import CallType
from connectors.fields import FieldSpec
from connectors.products import product_for
from engine.credit_ledger import charged_to, charged_to_page
from engine.lake import mark_deleted as lake_mark_deleted
from engine.ledger import JobState
from engine.page_load import load_downloaded_page, sha256_of
from engine.summary import PageOutcome

if TYPE_CHECKING:
    from engine.ledger import ExtractRecord
    from engine.runtime import Runtime

log = logging.getLogger("engine.rest")


class RestDeltaTooLarge(Exception):
    def __init__(self, module: str, fetched: int, limit: int) -> None:
        self.module = module
        self.fetched = fetched
        self.limit = limit
        super().__init__(
            f"{module}: more than {limit} changed records via REST ({fetched} fetched); "
            "switching to a bulk read"
        )


def csv_value(value: Any) -> str:
    """One REST JSON value in the bulk-read CSV form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        inner = value.get("id", value.get("name", ""))
        return "" if inner is None else str(inner)
    if isinstance(value, list | tuple):
        parts = [csv_value(v) for v in value]
        return ";".join(p for p in parts if p)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def rest_field_names(fields: Sequence[FieldSpec]) -> list[str]:
    return [f.api_name for f in fields if f.api_name != "id"]


def records_to_zip(
    records: Iterable[Mapping[str, Any]],
    fields: Sequence[FieldSpec],
    zip_path: Path,
) -> int:
    """Write ``records`` as ``{stem}.csv`` inside ``zip_path``; returns the record count."""
    names = ["id", *rest_field_names(fields)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    count = 0
    for record in records:
        writer.writerow([csv_value(record.get(name)) for name in names])
        count += 1
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{zip_path.stem}.csv", buffer.getvalue().encode("utf-8"))
    tmp.replace(zip_path)
    return count


def rest_page_cost(product: str) -> int:
    """Credits one REST Get Records page costs: CRM 1, Recruit 3."""
    return product_for(product).credit_costs[CallType.GET_RECORDS]


def fetch_rest_delta(
    rt: Runtime,
    extract: ExtractRecord,
    fields: Sequence[FieldSpec],
    since: datetime,
    *,
    max_records: int,
) -> list[Mapping[str, Any]]:
    """Records modified since ``since`` via REST (each page's credits go through the meter).

    Raises ``RestDeltaTooLarge`` past ``max_records`` (the pages fetched so far stay recorded
    as spent in the ledger).
    """
    client = rt.client(extract.product)
    records: list[Mapping[str, Any]] = []
    names = rest_field_names(fields)
    for page in client.records.iter_pages(
        extract.module, fields=names, modified_since=since.replace(tzinfo=UTC)
    ):
        records.extend(page.records)
        if len(records) > max_records or (page.more_records and len(records) >= max_records):
            raise RestDeltaTooLarge(extract.module, len(records), max_records)
    return records


def capture_deleted(
    rt: Runtime, product: str, module: str, table: str, since: datetime | None
) -> int:
    """Mark records deleted in Zoho since ``since`` with ``_zoho_deleted_at``; returns count."""
    client = rt.client(product)
    entries: list[tuple[str, datetime]] = []
    modified_since = since.replace(tzinfo=UTC) if since is not None else None
    with charged_to(None, f"deleted records {product} {module}"):
        for page in client.records.iter_deleted_pages(module, modified_since=modified_since):
            for entry in page.records:
                record_id = entry.get("id")
                when = _parse_time(entry.get("deleted_time"))
                if record_id is not None:
                    entries.append((str(record_id), when or datetime.now(UTC)))
    if not entries:
        return 0
    with rt.load_lock:
        marked = int(rt.warehouse.mark_deleted(table, entries))
        lake_mark_deleted(rt.settings, product, module, entries)
    return marked


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_rest_page(
    rt: Runtime, extract: ExtractRecord, since: datetime, max_records: int
) -> PageOutcome:
    """A REST delta as one ledger 'page': fetched, written as a bulk-style zip, loaded."""
    ledger = rt.ledger
    fields = rt.fields(extract.product, extract.module)
    job = ledger.plan_page(extract, 1, query=extract.query)
    outcome = PageOutcome(job=job)
    if job.state is JobState.LOADED:
        return outcome
    if job.state is JobState.DOWNLOADED and job.file_path and Path(job.file_path).exists():
        if sha256_of(Path(job.file_path)) == job.sha256:
            outcome.reused_download = True
            return load_downloaded_page(rt, extract, job, Path(job.file_path), fields, outcome)
        job = ledger.mark_download_invalid(job.job_key, "file missing or checksum differs")
    job_id = f"rest-{extract.extract_id[:16]}"
    with charged_to_page(job, "rest-read") as charge:
        records = fetch_rest_delta(rt, extract, fields, since, max_records=max_records)
    outcome.credits += charge.credits
    if extract.kind == "backfill" and extract.window_end is not None:
        from engine.windows import modified_before

        records = modified_before(records, extract.window_end)  # REST reads have no end
    path = rt.settings.downloads_dir / extract.product / extract.module / f"{job_id}.zip"
    count = records_to_zip(records, fields, path)
    if job.state is JobState.PLANNED:
        job = ledger.mark_created(job.job_key, job_id)
    if job.state is JobState.CREATED:
        job = ledger.mark_completed(
            job.job_key,
            record_count=count,
            per_page=None,
            more_records=False,
            next_page_token=None,
        )
    job = ledger.mark_downloaded(
        job.job_key, path=str(path), sha256=sha256_of(path), size=path.stat().st_size
    )
    return load_downloaded_page(rt, extract, job, path, fields, outcome)
