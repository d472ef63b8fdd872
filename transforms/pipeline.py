"""One call per downloaded bulk-read page: zip -> typed Arrow -> Parquet and/or warehouse.

`load_page` streams the page once: each typed batch goes to the page's Parquet writer (its
own thread) and to the warehouse as it is read. Memory stays bounded: a few CSV blocks in
flight, a Parquet row group, and (for a load straight into the table) at most one page kept.
The warehouse merge and the Parquet commit happen only after the whole page was read; any
failure leaves both the table and the Parquet partition as they were. Calling `load_page`
again for the same page is safe: its Parquet files are replaced and the merge on ``id``
keeps one row per record. The flow's ledger decides whether a page needs loading.

While the batches stream, `load_page` also notes the newest ``Modified_Time`` of the page and
the ids carrying it (`PageLoadResult.newest_modified` / ``newest_ids``): what an incremental
export's watermark needs, without reading the page back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connectors.fields import FieldSpec
from transforms.csv_reader import DEFAULT_BLOCK_SIZE, BulkCsv
from transforms.drift import DriftPolicy, DriftReport
from transforms.identifiers import validate_api_name, validate_path_token
from transforms.parquet import BackgroundPageWriter, open_page_writer
from transforms.rejects import RejectsCollector
from transforms.schema import build_page_schema
from transforms.warehouse import LoadHooks, MergeResult, Warehouse, open_warehouse

log = logging.getLogger("transforms.pipeline")

REJECTS_DIR = "_rejects"
#: the columns the newest-record tracking reads (every Zoho module has both)
ID_COLUMN = "id"
MODIFIED_COLUMN = "Modified_Time"


@dataclass(frozen=True)
class PageLoadResult:
    """The accounting of one page. Always ``rows_read == rows_loaded + rows_rejected``."""

    product: str
    module: str
    job_id: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    parquet_files: tuple[Path, ...]
    drift: DriftReport | None
    rejects_path: Path | None
    table: str | None
    rows_merged: int | None
    unknown_columns: tuple[str, ...]
    seconds: float
    #: the warehouse part of ``seconds``: staging (reading streams into it) and merge
    stage_seconds: float | None = None
    merge_seconds: float | None = None
    #: the newest ``Modified_Time`` among the loaded rows (None: no row, or no such column)
    newest_modified: datetime | None = None
    #: the ids of the loaded rows carrying ``newest_modified``, in page order
    newest_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (for flow logs, artifacts and the run ledger)."""
        return {
            "product": self.product,
            "module": self.module,
            "job_id": self.job_id,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "parquet_files": [str(p) for p in self.parquet_files],
            "drift": self.drift.to_dict() if self.drift else None,
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
            "table": self.table,
            "rows_merged": self.rows_merged,
            "unknown_columns": list(self.unknown_columns),
            "seconds": round(self.seconds, 3),
            "stage_seconds": _rounded(self.stage_seconds),
            "merge_seconds": _rounded(self.merge_seconds),
            "newest_modified": self.newest_modified.isoformat() if self.newest_modified else None,
            "newest_ids": list(self.newest_ids),
        }


class NewestRecords:
    """The newest ``Modified_Time`` seen in a stream of batches and the ids carrying it."""

    def __init__(self) -> None:
        self.newest: datetime | None = None
        self._ids: dict[str, None] = {}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    def pairs(self) -> list[tuple[str, datetime]]:
        """``(id, newest)`` for each id carrying the newest ``Modified_Time`` seen."""
        newest = self.newest
        return [] if newest is None else [(i, newest) for i in self._ids]

    def see(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        if batch.num_rows == 0 or MODIFIED_COLUMN not in names or ID_COLUMN not in names:
            return
        modified = batch.column(MODIFIED_COLUMN)
        top = pc.max(modified)
        if not top.is_valid:
            return
        value = top.as_py()
        if self.newest is not None and value < self.newest:
            return
        if self.newest is None or value > self.newest:
            self.newest = value
            self._ids = {}
        at_top = batch.column(ID_COLUMN).filter(pc.equal(modified, top))
        self._ids.update(dict.fromkeys(str(i) for i in at_top.to_pylist()))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def default_table_name(product: str, module: str) -> str:
    """``crm_Leads``, ``recruit_Candidates``: products can share module names."""
    return f"{product}_{module}"


def load_page(
    zip_path: Path,
    fields: Sequence[FieldSpec],
    *,
    product: str,
    module: str,
    job_id: str,
    extracted_at: datetime,
    parquet_root: Path | None,
    warehouse: Warehouse | str | None,
    table: str | None = None,
    drift_policy: DriftPolicy = "evolve",
    run_id: str | None = None,
    rejects_root: Path | None = None,
    hooks: LoadHooks | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> PageLoadResult:
    """Load one bulk-read page (``{job_id}.zip``) into Parquet and/or a warehouse table.

    ``parquet_root=None`` skips Parquet; ``warehouse=None`` skips the warehouse (a URL string
    is opened and closed here; a `Warehouse` object is left open). Rejected rows are written
    to ``{rejects_root}/{product}/{module}/{job_id}.rejects.csv`` (default ``rejects_root``:
    ``{parquet_root}/_rejects``, or the zip's directory without Parquet).
    """
    started = time.perf_counter()
    validate_api_name(product, "product")
    validate_api_name(module, "module")
    if extracted_at.tzinfo is None:
        raise ValueError("extracted_at must be timezone-aware (UTC recommended)")
    table_name = validate_api_name(table or default_table_name(product, module), "table")
    source = BulkCsv(Path(zip_path), block_size=block_size)
    schema = build_page_schema(source.header, fields) if source.header else None
    rejects = RejectsCollector(
        _rejects_path(zip_path, parquet_root, rejects_root, product, module, job_id), source.label
    )
    owns_warehouse = isinstance(warehouse, str)
    target = open_warehouse(warehouse) if isinstance(warehouse, str) else warehouse
    writer: BackgroundPageWriter | None = None
    merge: MergeResult | None = None
    files: tuple[Path, ...] = ()
    newest = NewestRecords()
    try:
        if schema is not None:
            arrow_schema = schema.arrow_schema
            if parquet_root is not None:
                # written in its own thread, while this one feeds the warehouse
                writer = BackgroundPageWriter(
                    open_page_writer(
                        parquet_root,
                        product=product,
                        module=module,
                        extracted_at=extracted_at,
                        run_id=run_id or job_id,
                        file_stem=job_id,
                        schema=arrow_schema,
                    )
                )
            stream = source.iter_batches(
                schema, module=module, job_id=job_id, extracted_at=extracted_at, rejects=rejects
            )
            # closing(): a failed load stops the reading thread now, not when the traceback dies
            with contextlib.closing(_tee(stream, writer, newest)) as batches:
                if target is not None:
                    merge = target.load(
                        table_name, arrow_schema, batches, policy=drift_policy, hooks=hooks
                    )
                else:
                    for _ in batches:
                        pass
            if writer is not None:
                files = writer.commit()
                writer = None
        rejects_path = rejects.finish(source.open_text)
    finally:
        if writer is not None:
            writer.abort()
        rejects.close()
        if owns_warehouse and target is not None:
            target.close()
    counts = source.counts
    if not counts.reconciles:  # a bug, never data: say so loudly
        raise AssertionError(f"row accounting does not reconcile for page {job_id}: {counts}")
    result = PageLoadResult(
        product=product,
        module=module,
        job_id=job_id,
        rows_read=counts.rows_read,
        rows_loaded=counts.rows_loaded,
        rows_rejected=counts.rows_rejected,
        parquet_files=files,
        drift=merge.drift if merge else None,
        rejects_path=rejects_path,
        table=table_name if target is not None else None,
        rows_merged=merge.rows_merged if merge else None,
        unknown_columns=schema.unknown_headers if schema else (),
        seconds=time.perf_counter() - started,
        stage_seconds=merge.stage_seconds if merge else None,
        merge_seconds=merge.merge_seconds if merge else None,
        newest_modified=newest.newest,
        newest_ids=newest.ids,
    )
    log.info(
        "loaded %s %s page of job %s: %d rows read, %d loaded, %d rejected in %.2f s",
        product,
        module,
        job_id,
        result.rows_read,
        result.rows_loaded,
        result.rows_rejected,
        result.seconds,
    )
    return result


def _tee(
    batches: Generator[pa.RecordBatch, None, None],
    writer: BackgroundPageWriter | None,
    newest: NewestRecords,
) -> Generator[pa.RecordBatch, None, None]:
    """Pass every batch on, writing it to Parquet first and noting its newest records;
    closing this closes ``batches``."""
    with contextlib.closing(batches):
        for batch in batches:
            if writer is not None:
                writer.write(batch)
            newest.see(batch)
            yield batch
    if writer is not None:
        writer.finish()  # the last row group is written while the warehouse finishes


def _rejects_path(
    zip_path: Path,
    parquet_root: Path | None,
    rejects_root: Path | None,
    product: str,
    module: str,
    job_id: str,
) -> Path:
    if rejects_root is None:
        base = Path(parquet_root) if parquet_root else Path(zip_path).parent
        rejects_root = base / REJECTS_DIR
    name = validate_path_token(job_id, "job id")
    return Path(rejects_root) / product / module / f"{name}.rejects.csv"
