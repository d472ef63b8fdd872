"""Retention of a Creator report: delete the records a criteria selects, resumably.

1. **Criteria**: mandatory, never empty; ``ID != 0`` (every record) only when asked for all.
2. **Dry run**: Get Records with the criteria (IDs only, 1,000 a call) counts the matching
   records and writes their ids to ``{data}/retention/{table}/dry-run-*.ids``; nothing is
   deleted and no ledger entry is made.
3. **Delete**: a ledger extract (``kind=retention``) records the criteria; the ids that match
   are written to the audit table (``engine.retention_audit``) as ``matched``; then Delete
   Records with ``process_until_limit=true``, 200 a call, each call a ledger page, until
   ``more_records`` is false or a call deletes nothing (records failing with 3001 match again
   on every pass). Each call's deleted ids get ``_zoho_deleted_at`` in the warehouse table
   and the report's lake table (never removed), then go to the audit table; per-record
   failures are reported, not retried.
4. **Resume**: a run killed mid-way leaves its extract running; the next run with the same
   criteria continues it. Ids deleted by a call whose answer was lost are the ``matched`` ids
   that no longer match: they are marked and recorded as deleted then (marking first means a
   kill between the two marks them again, harmlessly, on the re-run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.creator import CreatorClient
from engine.creator_source import (
    PRODUCT,
    CreatorSettings,
    creator_client,
    find_application,
    module_key,
    table_for,
)
from engine.credit_ledger import charged_to_page
from engine.errors import UsageError
from engine.lake import mark_deleted as lake_mark_deleted
from engine.ledger import ExtractRecord, ExtractState, JobState, utcnow
from engine.retention_audit import DELETED, DeletionAudit
from transforms.schema import DELETED_AT_COLUMN

if TYPE_CHECKING:
    from engine.runtime import Runtime

_EVERY_RECORD = re.compile(r"^\(?\s*ID\s*!=\s*(0|null|\"\"|'')\s*\)?$", re.IGNORECASE)
SAMPLE_IDS = 20


def check_criteria(criteria: str, *, allow_all: bool = False) -> str:
    """The criteria to delete by; refuses an empty one and, without ``allow_all``, ``ID != 0``."""
    text = criteria.strip()
    if not text:
        raise UsageError(
            "retention: --criteria is empty; Creator deletes only by criteria "
            "(e.g. \"Added_Time < '01-Jan-2024'\")"
        )
    if _EVERY_RECORD.match(text) and not allow_all:
        raise UsageError(
            f"retention: {text!r} matches every record; pass --all (flow parameter "
            "allow_all) to delete them all"
        )
    return text


@dataclass
class RetentionResult:
    app: str
    report: str
    table: str
    criteria: str
    dry_run: bool
    matched: int = 0
    sample_ids: list[str] = field(default_factory=list)
    ids_path: str | None = None
    deleted: int = 0
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    delete_calls: int = 0
    marked_in_warehouse: int = 0
    marked_in_lake: int = 0
    #: ids found deleted after a crash (the call's answer was lost)
    recovered: int = 0
    resumed: bool = False
    extract_id: str | None = None
    message: str = ""

    def as_row(self) -> dict[str, Any]:
        return {
            "report": f"{self.app}/{self.report}",
            "mode": "dry run" if self.dry_run else "delete",
            "matched": self.matched,
            "deleted": self.deleted,
            "failed": len(self.failed),
            "delete calls": self.delete_calls,
            "marked in warehouse": self.marked_in_warehouse,
            "marked in lake": self.marked_in_lake,
            "result": self.message,
        }


class Retention:
    def __init__(
        self,
        rt: Runtime,
        client: CreatorClient,
        owner: str,
        app: str,
        report: str,
        *,
        allow_all: bool = False,
    ) -> None:
        self.rt = rt
        self.client = client
        self.owner, self.app, self.report = owner, app, report
        self.table = table_for(app, report)
        self.module = module_key(app, report)
        self.allow_all = allow_all

    def every_record(self, matched: int) -> bool:
        """Whether ``matched`` records are every record the warehouse holds of the report
        (its last export), whatever the criteria's wording (``ID > 0`` as ``ID != 0``)."""
        with self.rt.load_lock:
            if self.rt.warehouse.table_schema(self.table) is None:
                return False
            live = self.rt.warehouse.query_arrow(
                f'SELECT count(*) AS n FROM "{self.table}" WHERE "{DELETED_AT_COLUMN}" IS NULL'
            )
        known = int(live["n"][0].as_py())
        return known > 0 and matched >= known

    def _refuse_every_record(self, criteria: str, matched: int) -> None:
        if not self.allow_all and self.every_record(matched):
            raise UsageError(
                f"retention: {criteria!r} matches {matched} records, every record the last "
                f"export of {self.app}/{self.report} holds; pass --all (flow parameter "
                "allow_all) to delete them all"
            )

    def matching_ids(self, criteria: str) -> list[str]:
        pages = self.client.iter_records(
            self.owner, self.app, self.report, criteria=criteria, fields=["ID"], max_records=1000
        )
        return [str(r["ID"]) for page in pages for r in page]

    def dry_run(self, criteria: str) -> RetentionResult:
        result = RetentionResult(self.app, self.report, self.table, criteria, dry_run=True)
        ids = self.matching_ids(criteria)
        result.matched, result.sample_ids = len(ids), ids[:SAMPLE_IDS]
        result.ids_path = str(self._write_ids("dry-run", ids))
        result.message = (
            f"dry run: {len(ids)} record(s) match; nothing deleted (ids in {result.ids_path})"
        )
        if not self.allow_all and self.every_record(len(ids)):
            result.message += "; that is every record: deleting them needs --all"
        return result

    def delete(self, criteria: str) -> RetentionResult:
        ledger = self.rt.ledger
        audit = DeletionAudit(ledger)
        extract, resumed = ledger.open_extract(
            org=self.rt.org, product=PRODUCT, module=self.module, kind="retention",
            query={"criteria": criteria}, method="delete", reason="retention by criteria",
        )  # fmt: skip
        if resumed and extract.query.get("criteria") != criteria:
            raise UsageError(
                f"retention of {self.module}: an unfinished run with criteria "
                f"{extract.query.get('criteria')!r} must finish first (run it again)"
            )
        result = RetentionResult(
            self.app, self.report, self.table, criteria, dry_run=False, resumed=resumed,
            extract_id=extract.extract_id,
        )  # fmt: skip
        if resumed:
            self._recover(extract, audit, criteria, result)
        else:
            ids = self.matching_ids(criteria)
            try:
                self._refuse_every_record(criteria, len(ids))
            except UsageError:
                ledger.finish_extract(extract.extract_id, ExtractState.FAILED)
                raise
            audit.add_matched(extract.extract_id, self.app, self.report, ids)
            result.ids_path = str(self._write_ids(extract.extract_id, ids))
        result.matched = len(audit.ids(extract.extract_id))
        self._delete_calls(extract, audit, criteria, result)
        ledger.finish_extract(extract.extract_id, ExtractState.LOADED)
        result.deleted = len(audit.ids(extract.extract_id, DELETED))
        result.failed = audit.failures(extract.extract_id)
        result.message = self._message(result)
        return result

    def _delete_calls(
        self, extract: ExtractRecord, audit: DeletionAudit, criteria: str, result: RetentionResult
    ) -> None:
        ledger = self.rt.ledger
        page = len(ledger.jobs_for_extract(extract.extract_id, live_only=False)) + 1
        while True:
            job = ledger.plan_page(extract, page, query={"criteria": criteria})
            with charged_to_page(job, "delete"):
                call = self.client.delete_records(
                    self.owner, self.app, self.report, criteria, max_calls=1
                )
            result.delete_calls += 1
            job = ledger.mark_created(job.job_key, f"delete-{page}")
            self._mark_deleted(call.deleted, result)
            audit.record(
                extract.extract_id, self.app, self.report, deleted=call.deleted,
                failed=call.failed,
            )  # fmt: skip
            job = ledger.mark_completed(
                job.job_key, record_count=len(call.deleted), per_page=200,
                more_records=call.more_records, next_page_token=None,
            )  # fmt: skip
            ledger.mark_loaded(
                job.job_key, rows_read=len(call.deleted) + len(call.failed),
                rows_loaded=len(call.deleted), rows_rejected=len(call.failed),
            )  # fmt: skip
            if call.nothing_matched or not call.deleted or not call.more_records:
                return
            page += 1

    def _recover(
        self, extract: ExtractRecord, audit: DeletionAudit, criteria: str, result: RetentionResult
    ) -> None:
        """Ids a crashed call deleted without their answer: matched before, matching no more."""
        ledger = self.rt.ledger
        in_flight = [
            j for j in ledger.jobs_for_extract(extract.extract_id) if j.state is not JobState.LOADED
        ]
        if not in_flight:
            return
        still = set(self.matching_ids(criteria))
        known = audit.ids(extract.extract_id)
        done = audit.ids(extract.extract_id, DELETED)
        gone = sorted(known - still - done)
        self._mark_deleted(gone, result)
        audit.record(extract.extract_id, self.app, self.report, deleted=gone)
        result.recovered = len(gone)
        for job in in_flight:  # the calls are over: their ids are accounted for above
            if job.state is JobState.CREATED:
                job = ledger.mark_completed(
                    job.job_key, record_count=0, per_page=200, more_records=True,
                    next_page_token=None,
                )  # fmt: skip
            ledger.mark_loaded(job.job_key, rows_read=0, rows_loaded=0, rows_rejected=0)

    def _mark_deleted(self, ids: list[str], result: RetentionResult) -> None:
        """``_zoho_deleted_at`` on ``ids`` in the warehouse table and the lake table."""
        if not ids:
            return
        now = datetime.now(UTC)
        entries = [(i, now) for i in ids]
        with self.rt.load_lock:
            result.marked_in_warehouse += self.rt.warehouse.mark_deleted(self.table, entries)
            result.marked_in_lake += lake_mark_deleted(
                self.rt.settings, PRODUCT, self.table, entries
            )

    def _write_ids(self, label: str, ids: list[str]) -> Path:
        folder = self.rt.settings.data_path / "retention" / self.table
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        path = folder / f"{label}-{stamp}.ids"
        path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        return path

    @staticmethod
    def _message(result: RetentionResult) -> str:
        failed = len(result.failed)
        if result.deleted == 0 and result.recovered == 0:
            if failed:
                return (
                    f"nothing deleted: the {failed} record(s) that match failed to delete "
                    "(3001: locked by a workflow, approval or permission)"
                )
            return "nothing deleted: no record matches the criteria (already done)"
        text = f"{result.deleted} deleted in {result.delete_calls} delete call(s)"
        if result.recovered:
            text += f" ({result.recovered} found deleted after an interrupted call)"
        if failed:
            text += f"; {failed} failed to delete (3001), left in Creator"
        return text


def run_retention(
    rt: Runtime,
    client: CreatorClient,
    owner: str,
    app: str,
    report: str,
    criteria: str,
    *,
    dry_run: bool,
    allow_all: bool = False,
) -> RetentionResult:
    """A dry run or a deletion of the report's records matching ``criteria``."""
    text = check_criteria(criteria, allow_all=allow_all)
    retention = Retention(rt, client, owner, app, report, allow_all=allow_all)
    return retention.dry_run(text) if dry_run else retention.delete(text)


def retention_for_report(
    rt: Runtime,
    app: str,
    report: str,
    criteria: str,
    *,
    creator: CreatorSettings,
    dry_run: bool,
    allow_all: bool = False,
) -> RetentionResult:
    """``run_retention`` with a Creator client on ``rt`` (owner found as for the export)."""
    text = check_criteria(criteria, allow_all=allow_all)  # before any call
    client = creator_client(rt.connection, rt.ledger, creator, rt.settings)
    try:
        owner = find_application(client, app, creator.owner).owner
        return run_retention(
            rt, client, owner, app, report, text, dry_run=dry_run, allow_all=allow_all
        )
    finally:
        client.http.close()
