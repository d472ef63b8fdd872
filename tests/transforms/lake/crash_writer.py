"""A child process for the kill -9 tests: loads pages into a lake table, saying where it is.

    python -m tests.transforms.lake.crash_writer ROOT STOP ZIP [ZIP ...]

Pages whose zip name starts with ``1`` are appended (full load), the others merged. After each
commit it prints ``committed <page>`` and, with ``STOP=between``, waits for a line on stdin
before the next page. With ``STOP=inside`` delta-rs reads the last page's rows one at a
time (an append) and, halfway through, the writer prints ``inside <page>`` and sleeps, or a
merge (written by `transforms.lake.local_merge`) stops after its files are written and before
its commit: the parent kills it there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.table import TableMerger

import transforms.lake.table as lake_table
from tests.transforms.lake.pages import read_page
from transforms.lake import LakeTable
from transforms.lake.deletion_vectors import TableLog


def _stalling(data: pa.Table | pa.RecordBatchReader, page_id: str) -> pa.RecordBatchReader:
    """``data`` one row at a time; halfway through it says so and stalls."""
    table = data if isinstance(data, pa.Table) else data.read_all()
    batches = table.to_batches(max_chunksize=1)

    def stream() -> Iterator[pa.RecordBatch]:
        for number, batch in enumerate(batches):
            if number == len(batches) // 2:
                print(f"inside {page_id}", flush=True)
                time.sleep(3600)
            yield batch

    return pa.RecordBatchReader.from_batches(table.schema, stream())


def _stall_inside_delta(page_id: str) -> None:
    """Make delta-rs read the next page's rows from `_stalling` (appends and merges)."""
    write = lake_table.write_deltalake

    def stalling_write(location: str, data: pa.RecordBatchReader, **options: Any) -> None:
        write(location, _stalling(data, page_id), **options)

    class StallingDeltaTable(DeltaTable):
        def merge(self, source: Any, *args: Any, **options: Any) -> TableMerger:
            return super().merge(_stalling(source, page_id), *args, **options)

    def stalling_commit(log: TableLog, actions: list[dict[str, Any]]) -> int:
        print(f"inside {page_id}", flush=True)  # the data files are written, the log not
        time.sleep(3600)
        raise AssertionError("killed while stalled")

    lake_table.write_deltalake = stalling_write  # type: ignore[assignment]
    lake_table.DeltaTable = StallingDeltaTable  # type: ignore[misc]
    TableLog.commit = stalling_commit  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    root, stop, zips = argv[0], argv[1], [Path(p) for p in argv[2:]]
    lake = LakeTable.open(root, "crm", "Leads")
    for index, zip_path in enumerate(zips):
        page_id = zip_path.stem
        if stop == "inside" and index == len(zips) - 1:
            _stall_inside_delta(page_id)
        page = read_page(zip_path)
        if page_id.startswith("1"):
            lake.append_page(page, page_id)
        else:
            lake.merge_page(page, page_id)
        print(f"committed {page_id}", flush=True)
        if stop == "between":
            sys.stdin.readline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
