"""A page on its way into a lake table: one Arrow table, one row per id, one commit record.

A page is bounded (a 200,000-row Leads page is ~110 MB of Arrow), so it is held whole: the
table checks its ids before choosing append or merge, and delta-rs's MERGE skips the data files
whose ``id`` range the page does not touch only when it can see the whole page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, Transaction

from transforms.drift import DriftReport, align_batch
from transforms.schema import EXTRACTED_AT_COLUMN, ID_COLUMN

#: a committed page is recorded as the Delta app transaction ``{prefix}{page id}``
PAGE_TRANSACTION_PREFIX = "zoho-etl-page:"
PageMode = Literal["append", "merge", "skipped"]
PageData: TypeAlias = pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]


@dataclass(frozen=True)
class PageCommit:
    """What one page did to the table."""

    page_id: str
    mode: PageMode
    rows: int
    version: int
    drift: DriftReport | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "page_id": self.page_id,
            "mode": self.mode,
            "rows": self.rows,
            "version": self.version,
            "drift": self.drift.to_dict() if self.drift else None,
            "rows_inserted": self.rows_inserted,
            "rows_updated": self.rows_updated,
            "seconds": round(self.seconds, 3),
        }


def app_id(page_id: str) -> str:
    return f"{PAGE_TRANSACTION_PREFIX}{page_id}"


def commit_properties(page_id: str | None, metadata: dict[str, str]) -> CommitProperties:
    if page_id is None:
        return CommitProperties(custom_metadata=metadata)
    metadata = {**metadata, "zoho_etl_page": page_id}
    return CommitProperties(
        custom_metadata=metadata, app_transactions=[Transaction(app_id(page_id), 1)]
    )


def commit_metadata(operation: str, page: pa.Table) -> dict[str, str]:
    return {"zoho_etl_operation": operation, "zoho_etl_rows": str(page.num_rows)}


def page_table(data: PageData, schema: pa.Schema | None) -> pa.Table:
    """The page as one Arrow table (a page is bounded: ~110 MB for 200,000 Leads)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    batches: list[pa.RecordBatch] = list(data)
    if schema is None:
        if not batches:
            raise ValueError("an empty page needs its schema")
        schema = batches[0].schema
    return pa.Table.from_batches(batches, schema=schema)


def newest_per_id(page: pa.Table, version: str) -> pa.Table:
    """One row per id: the newest ``version`` (then the latest extraction) when ids repeat."""
    ids = page[ID_COLUMN]
    if pc.count_distinct(ids).as_py() == page.num_rows:
        return page
    keys = [(ID_COLUMN, "ascending", "at_end"), (version, "descending", "at_end")]
    if version != EXTRACTED_AT_COLUMN and EXTRACTED_AT_COLUMN in page.column_names:
        keys.append((EXTRACTED_AT_COLUMN, "descending", "at_end"))
    ordered = page.sort_by(keys)
    sorted_ids = ordered[ID_COLUMN].combine_chunks()
    first = pc.not_equal(sorted_ids.slice(1), sorted_ids.slice(0, len(sorted_ids) - 1))
    keep = pa.concat_arrays([pa.array([True]), first.fill_null(True)])
    return ordered.filter(keep)


def align_table(page: pa.Table, schema: pa.Schema) -> pa.Table:
    """``page`` with exactly ``schema``'s columns (cast, missing ones null), in its order."""
    batches = [align_batch(b, schema) for b in page.to_batches()]
    return pa.Table.from_batches(batches, schema=schema)
