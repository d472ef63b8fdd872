"""A page on its way into a lake table: one Arrow table, one row per id, one commit record.

A page is bounded (a 200,000-row Leads page is ~110 MB of Arrow), so it is held whole: the
table checks its ids before choosing append or merge, and delta-rs's MERGE skips the data files
whose ``id`` range the page does not touch only when it can see the whole page.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, Transaction

from transforms.drift import DriftReport, align_batch
from transforms.lake.types import lake_schema, to_lake_table
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


def commit_metadata(operation: str, rows: int | None = None) -> dict[str, str]:
    metadata = {"zoho_etl_operation": operation}
    if rows is not None:
        metadata["zoho_etl_rows"] = str(rows)
    return metadata


def lake_batches(
    data: PageData, schema: pa.Schema | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The page's schema in lake types and its batches converted to it, one at a time."""
    source: Iterator[pa.RecordBatch]
    if isinstance(data, pa.Table):
        schema, source = data.schema, iter(data.to_batches())
    elif isinstance(data, pa.RecordBatchReader):
        schema, source = data.schema, iter(data)
    else:
        source = iter(data)
        if schema is None:
            first = next(source, None)
            if first is None:
                raise ValueError("an empty page needs its schema")
            schema, source = first.schema, itertools.chain([first], source)
    target = lake_schema(schema)
    if target.equals(schema):
        return target, source
    converted = (to_lake_table(pa.Table.from_batches([b], schema)) for b in source)
    return target, (b for t in converted for b in t.to_batches())


class IdRepeatsError(RuntimeError):
    """Internal: stops an append whose page repeats an id (the page is merged instead)."""


class NewIdsFeed:
    """A page's batches on their way into an append, kept for a fallback to a merge.

    `stream` passes the batches on, shaped like ``target``; after the last one it checks the
    page's ids (repeated inside the page, or already stored per ``stored``) and, if one
    repeats, raises instead of ending, so delta-rs fails the write before its commit.
    """

    def __init__(
        self,
        batches: Iterator[pa.RecordBatch],
        target: pa.Schema,
        stored: Callable[[pa.ChunkedArray], bool],
    ) -> None:
        self._batches = batches
        self._target = target
        self._stored = stored
        self.kept: list[pa.RecordBatch] = []
        self.rows = 0
        self.repeats = False
        self.error: BaseException | None = None

    def _outside(self, ids: pa.ChunkedArray) -> bool:
        """``stored(ids)`` in a thread of its own: this generator runs inside delta-rs's
        runtime, where reading the table again would fail ("runtime within a runtime")."""
        with ThreadPoolExecutor(1, thread_name_prefix="lake-id-check") as pool:
            return pool.submit(self._stored, ids).result()

    def stream(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                self.kept.append(batch)
                self.rows += batch.num_rows
                yield align_batch(batch, self._target)
        except Exception as exc:
            self.error = exc
            raise
        ids = pa.chunked_array([b.column(ID_COLUMN) for b in self.kept], pa.string())
        if len(ids) and (pc.count_distinct(ids).as_py() != len(ids) or self._outside(ids)):
            self.repeats = True
            raise IdRepeatsError("an id of the page repeats: merge it instead")


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
