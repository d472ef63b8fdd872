"""Export of one Zoho Creator report into the warehouse table ``creator_{app}_{report}``.

- **Full**: bulk read jobs of up to 200,000 records chained by a ``record_cursor``
  (``engine.creator_bulk_chain``); a cursor Creator refuses costs nothing and no record is
  read twice.
- **Incremental**: records with ``Modified_Time`` at or after the watermark minus the overlap
  (the CRM incremental's rule; the merge on ``id`` makes the re-read harmless), the time
  written in the app's date format and time zone. Get Records (1,000 a call) unless bulk is
  cheaper in calls: past ``rest_max_records`` changed records the run switches to a bulk read
  with the same criteria.
- **Resume**: the extract, each page's job id, cursor and state are in the ledger; a re-run
  continues where the last one stopped (a full export killed half-way is finished first).

The options and the REST-or-bulk cost rule are in `engine.creator_options` (re-exported).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from functools import partial
from typing import TYPE_CHECKING, Any

from connectors.creator import CreatorClient
from connectors.creator_bulk import CreatorBulkReader
from engine.creator_bulk_chain import CreatorBulkChain
from engine.creator_load import PageLoad, PageLoader, json_batches
from engine.creator_options import (
    BULK_CALLS_PER_JOB,
    REST_PER_CALL,
    CreatorExportOptions,
    CreatorMode,
    creator_since_criteria,
    rest_is_cheaper,
)
from engine.creator_source import (
    PRODUCT,
    CreatorReportShape,
    CreatorSettings,
    creator_client,
    describe_report,
    find_application,
    poll_policy,
)
from engine.credit_ledger import charged_to_page
from engine.lake import commit_page as commit_to_lake
from engine.ledger import (
    ExtractRecord,
    ExtractState,
    JobRecord,
    JobState,
    Watermark,
    utcnow,
)
from engine.planning import incremental_since
from engine.summary import ModuleSummary
from transforms.creator import SYSTEM_DATETIMES

if TYPE_CHECKING:
    from engine.runtime import Runtime

__all__ = [
    "BULK_CALLS_PER_JOB",
    "REST_PER_CALL",
    "CreatorExport",
    "CreatorExportOptions",
    "CreatorMode",
    "creator_since_criteria",
    "export_creator_report",
    "open_report",
    "rest_is_cheaper",
]

log = logging.getLogger("engine.creator_export")


class CreatorExport:
    """One report's export on a runtime: ledger, warehouse, settings and a Creator client."""

    def __init__(
        self,
        rt: Runtime,
        client: CreatorClient,
        shape: CreatorReportShape,
        options: CreatorExportOptions,
        reader: CreatorBulkReader | None = None,
    ) -> None:
        self.rt = rt
        self.client = client
        self.shape = shape
        self.options = options
        self.reader = reader or CreatorBulkReader(client)
        self.ledger = rt.ledger

    # -- entry ------------------------------------------------------------------------
    def run(self) -> ModuleSummary:
        started = time.monotonic()
        extract, resumed = self._open_extract()
        summary = ModuleSummary(
            PRODUCT,
            self.shape.module,
            kind=extract.kind,
            method=extract.method,
            reason=extract.reason + (" (resumed)" if resumed else ""),
            table=self.shape.table,
        )
        if extract.method == "rest":
            switched = self._rest_page(extract, summary)
            if switched:
                extract = self.ledger.get_extract(extract.extract_id)
                summary.method, summary.reason = extract.method, extract.reason
        if extract.method == "bulk":
            load_page = partial(self._load_and_mark, summary)
            CreatorBulkChain(self.rt, self.shape, self.options, self.reader, load_page).run(extract)
        self.ledger.finish_extract(extract.extract_id, ExtractState.LOADED)
        jobs = [
            j
            for j in self.ledger.jobs_for_extract(extract.extract_id)
            if j.state is JobState.LOADED
        ]
        summary.pages = len(jobs)
        summary.rows_read = sum(j.rows_read or 0 for j in jobs)
        summary.rows_loaded = sum(j.rows_loaded or 0 for j in jobs)
        summary.rows_rejected = sum(j.rows_rejected or 0 for j in jobs)
        every = self.ledger.jobs_for_extract(extract.extract_id, live_only=False)
        summary.bulk_jobs_created = sum(
            1 for j in every if j.job_id and not j.job_id.startswith("rest-")
        )
        summary.credits = self.client.http.meter.used  # Creator calls of this run, meta included
        summary.seconds = time.monotonic() - started
        return summary

    def _open_extract(self) -> tuple[ExtractRecord, bool]:
        org, module = self.rt.org, self.shape.module
        for kind in ("full", "incremental"):  # a full export killed half-way is finished first
            running = self.ledger.find_extract(
                org=org, product=PRODUCT, module=module, kind=kind, state=ExtractState.RUNNING
            )
            if running is not None and (kind == "full" or self.options.mode == "incremental"):
                return running, True
        watermark = self.ledger.get_watermark(org, PRODUCT, module)
        since = None
        if self.options.mode == "incremental":
            since = incremental_since(watermark, self.options.overlap)
        fields = [*self.shape.field_names, *SYSTEM_DATETIMES]  # the incremental's version column
        query: dict[str, Any] = {"fields": fields, "form": self.shape.form}
        if since is None:
            kind, method = "full", "bulk"
            reason = (
                "full export: bulk read"
                if self.options.mode == "full"
                else "no watermark yet: full bulk read"
            )
        else:
            kind = "incremental"
            app = self.shape.application
            query["criteria"] = creator_since_criteria(since, app.date_format, app.time_zone)
            query["modified_since"] = since.replace(tzinfo=UTC).isoformat()
            method, reason = self._incremental_method(module)
        return self.ledger.open_extract(
            org=org, product=PRODUCT, module=module, kind=kind, query=query,
            method=method, reason=reason,
        )  # fmt: skip

    def _incremental_method(self, module: str) -> tuple[str, str]:
        previous = self.ledger.find_extract(
            org=self.rt.org, product=PRODUCT, module=module, kind="incremental",
            state=ExtractState.LOADED,
        )  # fmt: skip
        cap = self.options.rest_max_records
        if previous is None:
            return "rest", f"no delta estimate yet: Get Records, switching to bulk past {cap}"
        if previous.rows_loaded > cap or not rest_is_cheaper(previous.rows_loaded):
            return "bulk", f"~{previous.rows_loaded} changed records last time: bulk is cheaper"
        return "rest", f"~{previous.rows_loaded} changed records last time: Get Records"

    # -- REST -------------------------------------------------------------------------
    def _rest_page(self, extract: ExtractRecord, summary: ModuleSummary) -> bool:
        """The change set by Get Records as one ledger page; True when it switched to bulk."""
        job = self.ledger.plan_page(extract, 1, query=extract.query)
        if job.state is JobState.LOADED:
            return False
        cap = self.options.rest_max_records
        pages: list[list[dict[str, Any]]] = []
        fetched = 0
        shape = self.shape
        with charged_to_page(job, "rest-read"):
            for page in self.client.iter_records(
                shape.owner, shape.app, shape.report, criteria=extract.query["criteria"],
                field_config="detail_view", max_records=1000,
            ):  # fmt: skip
                pages.append(page)
                fetched += len(page)
                if fetched > cap:
                    reason = f"more than {cap} changed records: bulk read with the same criteria"
                    self.ledger.mark_expired(job.job_key, reason)
                    self.ledger.set_extract_method(extract.extract_id, "bulk", reason)
                    return True
        job_id = f"rest-{extract.extract_id[:16]}"
        if job.state is JobState.PLANNED:
            job = self.ledger.mark_created(job.job_key, job_id)
        if job.state is JobState.CREATED:
            job = self.ledger.mark_completed(
                job.job_key, record_count=fetched, per_page=None, more_records=False,
                next_page_token=None,
            )  # fmt: skip
        loaded = self._load(job, job_id, json_batches(pages, shape.schema), summary)
        self._mark_loaded(job, loaded)
        return False

    # -- load -------------------------------------------------------------------------
    def _load(self, job: JobRecord, job_id: str, batches: Any, summary: ModuleSummary) -> PageLoad:
        settings = self.rt.settings
        loader = PageLoader(
            self.shape.schema,
            module=self.shape.module,
            job_id=job_id,
            extracted_at=(job.completed_at or utcnow()).replace(tzinfo=UTC),
            rejects_path=settings.rejects_root / PRODUCT / self.shape.table / f"{job_id}.csv",
        )
        with self.rt.load_lock:
            loaded = loader.load(
                self.rt.warehouse, self.shape.table, batches, settings.drift_policy,
                landing=settings.parquet_root,
            )  # fmt: skip
            # into the lake before the ledger says loaded: a re-run then completes it
            extract = self.ledger.get_extract(job.extract_id)
            commit_to_lake(self.rt, extract, job, loaded.landing_files, table=self.shape.table)
        if loaded.drift:
            summary.drift.append(loaded.drift)
        if loaded.rejects_path:
            summary.rejects_paths.append(str(loaded.rejects_path))
        return loaded

    def _load_and_mark(
        self, summary: ModuleSummary, job: JobRecord, job_id: str, batches: Any
    ) -> JobRecord:
        return self._mark_loaded(job, self._load(job, job_id, batches, summary))

    def _mark_loaded(self, job: JobRecord, loaded: PageLoad) -> JobRecord:
        done = self.ledger.mark_loaded(
            job.job_key,
            rows_read=loaded.rows_read,
            rows_loaded=loaded.rows_loaded,
            rows_rejected=loaded.rows_rejected,
        )
        if loaded.newest is not None:
            watermark = Watermark(loaded.newest, tuple(loaded.newest_ids))
            self.ledger.set_watermark(
                self.rt.org, PRODUCT, self.shape.module, watermark, job.extract_id
            )
        return done


def open_report(
    rt: Runtime,
    app: str,
    report: str,
    *,
    creator: CreatorSettings,
    form: str | None = None,
) -> tuple[CreatorClient, CreatorReportShape]:
    """A Creator client on ``rt``'s connection and ledger, and the report's shape."""
    client = creator_client(rt.connection, rt.ledger, creator, rt.settings)
    application = find_application(client, app, creator.owner)
    return client, describe_report(client, application, report, form=form)


def export_creator_report(
    rt: Runtime,
    app: str,
    report: str,
    *,
    creator: CreatorSettings,
    options: CreatorExportOptions,
    form: str | None = None,
) -> ModuleSummary:
    """Export one report (full or incremental) into ``creator_{app}_{report}``."""
    client, shape = open_report(rt, app, report, creator=creator, form=form)
    try:
        reader = CreatorBulkReader(client, poll_policy(rt.settings))
        return CreatorExport(rt, client, shape, options, reader).run()
    finally:
        client.http.close()
