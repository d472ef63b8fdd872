"""The bulk read jobs of one Creator report export, chained by ``record_cursor``.

Jobs of up to 200,000 records; the cursor lives 15 minutes. Each job is a ledger page; as soon
as a job completes, the next page's job is created from its cursor, *then* the current zip is
downloaded and loaded. A cursor that Creator refuses (it expired while a page was converted, or
a crash outlived it) costs nothing: the next page is planned again as a job for the records
after the last ``ID`` loaded (``CreatorBulkQuery.resumed_after``), so no record is read twice.
Every step continues from the page's ledger state, so a re-run picks up where one stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.creator_bulk import CreatorBulkJob, CreatorBulkQuery, CreatorBulkReader
from connectors.creator_bulk import last_record_id as zip_last_id
from connectors.errors import InvalidRequestError
from engine.creator_load import csv_batches
from engine.creator_options import CreatorExportOptions
from engine.creator_source import PRODUCT, CreatorReportShape
from engine.credit_ledger import charged_to_page
from engine.errors import FlowsError
from engine.ledger import SUPERSEDED, ExtractRecord, JobRecord, JobState
from engine.page_load import sha256_of

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = logging.getLogger("engine.creator_bulk_chain")

#: loads a downloaded page's record batches and marks the page loaded: ``(job, job_id, batches)``
PageLoadFn = Callable[[JobRecord, str, Any], JobRecord]


class CreatorBulkChain:
    """The bulk pages of one report's extract on a runtime, loaded through ``load_page``."""

    def __init__(
        self,
        rt: Runtime,
        shape: CreatorReportShape,
        options: CreatorExportOptions,
        reader: CreatorBulkReader,
        load_page: PageLoadFn,
    ) -> None:
        self.rt = rt
        self.shape = shape
        self.options = options
        self.reader = reader
        self.load_page = load_page
        self.ledger = rt.ledger
        #: finished jobs seen by this process (their download paths: no second status call)
        self._done: dict[str, CreatorBulkJob] = {}

    def _base_query(self, extract: ExtractRecord) -> CreatorBulkQuery:
        return CreatorBulkQuery(
            fields=tuple(extract.query["fields"]),
            criteria=extract.query.get("criteria"),
            max_records=self.options.bulk_max_records,
        )

    def run(self, extract: ExtractRecord) -> None:
        """Bring every page of ``extract`` to loaded, continuing from the ledger."""
        job = self.ledger.plan_page(extract, 1, query={})
        while True:
            job = self._advance(extract, job)
            if not job.more_records:
                return
            live = [j for j in self._attempts(extract, job.page + 1) if j.state not in SUPERSEDED]
            job = live[-1] if live else self._after(extract, job.page + 1, job)

    def _attempts(self, extract: ExtractRecord, page: int) -> list[JobRecord]:
        jobs = self.ledger.jobs_for_extract(extract.extract_id, live_only=False)
        return [j for j in jobs if j.page == page]

    def _advance(self, extract: ExtractRecord, job: JobRecord) -> JobRecord:
        """Take one page from wherever it is to loaded (its successor's job created early)."""
        if job.state is JobState.PLANNED:
            job = self._create(extract, job)
        if job.state is JobState.CREATED:
            job = self._wait(job)
        if job.state is JobState.COMPLETED:
            if job.more_records and job.next_page_token:
                self._chain_next(extract, job)
            job = self._download(extract, job)
        if job.state is JobState.DOWNLOADED:
            assert job.file_path is not None
            assert job.job_id is not None
            batches = csv_batches(Path(job.file_path), self.shape.schema)
            job = self.load_page(job, job.job_id, batches)
        return job

    def _create(self, extract: ExtractRecord, job: JobRecord) -> JobRecord:
        shape = self.shape
        if job.page_token:
            try:
                with charged_to_page(job):
                    created = self.reader.create(
                        shape.owner, shape.app, shape.report, record_cursor=job.page_token
                    )
            except InvalidRequestError as exc:
                self.ledger.mark_expired(job.job_key, f"record_cursor refused ({exc.code})")
                previous = self._loaded_page(extract, job.page - 1)
                job = self._after(extract, job.page, previous)
                return self._create(extract, job)
        else:
            query = self._base_query(extract)
            after = job.query.get("after_id")
            with charged_to_page(job):
                created = self.reader.create(
                    shape.owner, shape.app, shape.report,
                    query.resumed_after(after) if after else query,
                )  # fmt: skip
        return self.ledger.mark_created(job.job_key, created.id)

    def _wait(self, job: JobRecord) -> JobRecord:
        assert job.job_id is not None
        started = time.monotonic()
        shape = self.shape
        with charged_to_page(job):
            done = self.reader.wait(shape.owner, shape.app, shape.report, job.job_id)
        self._done[done.id] = done
        return self.ledger.mark_completed(
            job.job_key,
            record_count=done.count or 0,
            per_page=self.options.bulk_max_records,
            more_records=bool(done.record_cursor),
            next_page_token=done.record_cursor,
            job_seconds=time.monotonic() - started,
        )

    def _chain_next(self, extract: ExtractRecord, job: JobRecord) -> None:
        """Create the next page's job from ``job``'s cursor before ``job`` is converted."""
        if self._attempts(extract, job.page + 1):
            return  # created by an earlier run (or refused: re-planned after the last ID)
        following = self.ledger.plan_page(
            extract, job.page + 1, page_token=job.next_page_token, query={"cursor_of": job.job_id}
        )
        shape = self.shape
        try:
            with charged_to_page(following):
                created = self.reader.create(
                    shape.owner, shape.app, shape.report, record_cursor=following.page_token
                )
        except InvalidRequestError as exc:  # re-planned from the last ID once this page is in
            self.ledger.mark_expired(following.job_key, f"record_cursor refused ({exc.code})")
            return
        self.ledger.mark_created(following.job_key, created.id)

    def _after(self, extract: ExtractRecord, page: int, previous: JobRecord) -> JobRecord:
        """Page ``page`` planned as the records after the last ID of the loaded ``previous``."""
        last = zip_last_id(Path(previous.file_path)) if previous.file_path else None
        if last is None:
            raise FlowsError(
                f"{self.shape.module}: page {previous.page}'s file is gone and its cursor "
                "expired; run with --full"
            )
        log.info("%s page %d: continuing after ID %s", self.shape.module, page, last)
        return self.ledger.plan_page(extract, page, query={"after_id": last})

    def _loaded_page(self, extract: ExtractRecord, page: int) -> JobRecord:
        for job in self.ledger.jobs_for_extract(extract.extract_id):
            if job.page == page and job.state is JobState.LOADED:
                return job
        raise FlowsError(f"{self.shape.module}: page {page} is not loaded")

    def _download(self, extract: ExtractRecord, job: JobRecord) -> JobRecord:
        assert job.job_id is not None
        shape = self.shape
        dest = self.rt.settings.downloads_dir / PRODUCT / shape.table
        dest.mkdir(parents=True, exist_ok=True)
        with charged_to_page(job):
            live = self._done.pop(job.job_id, None) or self.reader.status(
                shape.owner, shape.app, shape.report, job.job_id
            )
            path = self.reader.download(live, dest / f"creator-{job.job_id}.zip")
        return self.ledger.mark_downloaded(
            job.job_key, path=str(path), sha256=sha256_of(path), size=path.stat().st_size
        )
