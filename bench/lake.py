"""Lake benchmark: 1,000,000 Leads as one Delta table vs today's per-page Parquet, and merges.

    python -m bench.lake [--rows 1000000] [--per-page 200000] [--changes 10000] [--data DIR]
                         [--runs 3]

One run, same export (`bench.transforms.prepare_export`: the simulator's generators and page
writer, 34 columns of every Zoho type), every figure measured here:

- **write**: every page read from its zipped CSV, typed, and written
  - ``parquet_pages``: today's per-page Parquet (`transforms.load_page`, Parquet only);
  - ``lake_pages``: what an export does on a local lake: the per-page Parquet, then each
    page's files committed as the table's data files (`transforms.lake.adopt`, one Delta
    commit per page, its ids checked against the table first);
  - ``lake_pages_written``: `transforms.lake.LakeTable.append_page`, delta-rs writing each
    page again (the path of a lake on object storage);
- **incremental run**: ``changes`` rows of the 1,000,000 come again with a newer
  ``Modified_Time`` and a changed value, and go into the 1,000,000-row table:
  - ``lake_merge_scattered``: `LakeTable.merge_page` with changed ids spread evenly over the
    table (every 100th id: every data file holds some);
  - ``lake_merge_recent``: the same with the most recent ids (the last 1 % of the table);
  - ``lake_merge_dv_scattered`` and ``lake_merge_dv_recent``: the same two merges into a
    lake with deletion vectors on (``ZOHO_ETL_LAKE_DELETION_VECTORS``,
    `transforms.lake.local_merge`): the changed rows go to one new file and each file
    that held an old version gets a deletion vector instead of being rewritten;
  - ``snapshot_rewrite``: the whole snapshot (one Parquet file) read, the changed rows
    replaced, and the whole snapshot written again (streamed, zstd), what a folder of plain
    Parquet needs to keep one row per id.

Each measurement runs in its own worker process (``--worker``); the worker times its work
(start-up, imports and set-up such as copying the base table excluded) and the parent
samples its peak RSS (`bench.harness.PeakRSS`). Targets (issue 16): table write <= 1.3x the
per-page Parquet; merge >= 10x faster than rewriting the snapshot; peak RSS < 1 GB. JSON goes
to ``bench/results/lake.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from bench.harness import median_run, ratio, run_worker_process, write_result

if TYPE_CHECKING:
    from transforms import PageLoadResult

DEFAULT_DATA = Path("/tmp/zoho-bench-lake")
MODULE = "Leads"
#: the median of this many runs for each stage (the machine is shared)
RUNS = 3


# -- set-up (untimed) --------------------------------------------------------------------------
def _page_batches(zip_path: Path, fields: list[Any]) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """One page's typed Arrow batches, read as `transforms.load_page` reads them."""
    from bench.transforms import EXTRACTED_AT
    from transforms.csv_reader import BulkCsv
    from transforms.rejects import RejectsCollector
    from transforms.schema import build_page_schema

    source = BulkCsv(zip_path)
    schema = build_page_schema(source.header, fields)

    def batches() -> Iterator[pa.RecordBatch]:
        rejects = RejectsCollector(zip_path.parent / f"{zip_path.stem}.rejects.csv", source.label)
        try:
            yield from source.iter_batches(
                schema,
                module=MODULE,
                job_id=zip_path.stem,
                extracted_at=EXTRACTED_AT,
                rejects=rejects,
            )
        finally:
            rejects.close()

    return schema.arrow_schema, batches()


def _write_lake(export: Path, root: Path) -> int:
    from bench.transforms import _fields, _zips
    from transforms.lake import LakeTable

    fields = _fields(export)
    lake = LakeTable.open(str(root), "crm", MODULE)
    rows = 0
    for zip_path in _zips(export, 10**9):
        schema, batches = _page_batches(zip_path, fields)
        rows += lake.append_page(batches, zip_path.stem, schema).rows
    return rows


def _adopt_lake(export: Path, work: Path) -> int:
    """What an export does on a local lake: each page's landing Parquet (``load_page``) is
    committed as the table's data files (`transforms.lake.adopt`); the table is
    ``work/table``."""
    from bench.transforms import load_pages
    from transforms.lake import LakeTable
    from transforms.lake.adopt import adopt_page_files
    from transforms.parquet import remove_landing

    lake = LakeTable.open(str(work / "table"), "crm", MODULE)

    def adopt(zip_path: Path, result: PageLoadResult) -> None:
        if adopt_page_files(lake, result.parquet_files, zip_path.stem) is None:
            raise RuntimeError(f"page {zip_path.name} could not be adopted")
        remove_landing(result.parquet_files)

    return load_pages(export, 10**9, work, parquet=True, warehouse=None, after_page=adopt)


def prepare_base(export: Path, data: Path, changes: int) -> Path:
    """The 1,000,000-row table, its snapshot as one Parquet file, and the two change sets."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from transforms.lake import LakeTable

    base = data / f"base-{export.name}-{changes}-adopted-v2"
    if (base / "done").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    _adopt_lake(export, base)
    table = LakeTable.open(str(base / "table"), "crm", MODULE).read().sort_by("id")
    snapshot = table.drop_columns(["_zoho_deleted_at"])
    pq.write_table(snapshot, base / "snapshot.parquet", compression="zstd")
    step = max(1, table.num_rows // changes)
    picks = {
        "scattered": pa.array(range(0, step * changes, step)),
        "recent": pa.array(range(table.num_rows - changes, table.num_rows)),
    }
    for name, indices in picks.items():
        changed = snapshot.take(indices)
        later = pc.add(changed["Modified_Time"], pa.scalar(timedelta(days=1)))
        changed = changed.set_column(
            changed.schema.get_field_index("Modified_Time"), "Modified_Time", later
        )
        if "Last_Name" in changed.column_names:
            index = changed.schema.get_field_index("Last_Name")
            changed = changed.set_column(
                index, "Last_Name", pa.array(["Changed"] * changed.num_rows)
            )
        pq.write_table(changed, base / f"changes-{name}.parquet")
    (base / "done").write_text("ok")
    return base


# -- workers (each runs in its own process) --------------------------------------------------
def _parquet_pages(export: Path, work: Path) -> int:
    from bench.transforms import load_pages

    return load_pages(export, 10**9, work, parquet=True, warehouse=None)


def _lake_merge(
    base: Path, work: Path, changes: pa.Table, *, deletion_vectors: bool
) -> Callable[[], int]:
    from transforms.lake import LakeTable

    shutil.copytree(base / "table", work / "table")
    lake = LakeTable.open(str(work / "table"), "crm", MODULE, deletion_vectors=deletion_vectors)

    def merge() -> int:
        commit = lake.merge_page(changes, "incremental")
        if commit.rows_updated != changes.num_rows:
            raise RuntimeError(f"merge updated {commit.rows_updated} of {changes.num_rows}")
        return commit.rows_updated or 0

    return merge


def _live_ids(table: Path) -> int:
    """Distinct ids in the table after a merge, read by a reader that applies deletion
    vectors (not timed): one row per id means the merge replaced rows, never added them."""
    import pyarrow.compute as pc

    from transforms.lake import LakeTable
    from transforms.lake.reading import read_arrow

    ids = read_arrow(LakeTable(str(table), MODULE).delta_table(), ["id"])["id"]
    distinct = pc.count_distinct(ids).as_py()
    if distinct != len(ids):
        raise RuntimeError(f"{len(ids) - distinct} ids are in the table twice")
    return distinct


def _snapshot_rewrite(base: Path, work: Path, changes: pa.Table) -> int:
    """Read the snapshot in batches, drop the changed ids, append the changes, write it all."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(base / "snapshot.parquet")
    changed_ids = changes["id"].combine_chunks()
    rows = 0
    with pq.ParquetWriter(
        work / "snapshot.parquet", source.schema_arrow, compression="zstd"
    ) as out:
        for batch in source.iter_batches(batch_size=128 * 1024):
            kept = batch.filter(pc.invert(pc.is_in(batch.column("id"), value_set=changed_ids)))
            out.write_batch(kept)
            rows += kept.num_rows
        out.write_table(changes.cast(source.schema_arrow))
        rows += changes.num_rows
    return rows


def run_worker(name: str, export: Path, base: Path, work: Path) -> dict[str, Any]:
    """One measurement; returns rows and seconds (set-up and clean-up not timed)."""
    import pyarrow.parquet as pq

    import transforms.lake  # noqa: F401  (imports are not timed, for every side alike)

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    jobs: dict[str, Callable[[], int]] = {
        "parquet_pages": lambda: _parquet_pages(export, work),
        "lake_pages": lambda: _adopt_lake(export, work),
        "lake_pages_written": lambda: _write_lake(export, work / "lake"),
    }
    for kind in ("scattered", "recent"):
        changes_file = base / f"changes-{kind}.parquet"
        if name in (f"lake_merge_{kind}", f"lake_merge_dv_{kind}"):
            vectors = name.startswith("lake_merge_dv")
            jobs[name] = _lake_merge(
                base, work, pq.read_table(changes_file), deletion_vectors=vectors
            )
        elif name == f"snapshot_rewrite_{kind}":
            changes = pq.read_table(changes_file)
            jobs[name] = lambda c=changes: _snapshot_rewrite(base, work, c)  # type: ignore[misc]
    started = time.perf_counter()
    rows = jobs[name]()
    seconds = time.perf_counter() - started
    if name.startswith("lake_merge"):
        rows = _live_ids(work / "table" / "crm" / MODULE)
    files = len(list(work.rglob("*.parquet")))
    size = sum(p.stat().st_size for p in work.rglob("*.parquet"))
    shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "seconds": round(seconds, 3), "parquet_files": files, "bytes": size}


# -- the parent --------------------------------------------------------------------------------
def measure_in_worker(name: str, export: Path, base: Path, data: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.lake", "--worker", name, "--export", str(export)]
    command += ["--base", str(base), "--work", str(data / "work")]
    result = run_worker_process(name, command)
    print(f"{name:28s} {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lake benchmark (see module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=200_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=RUNS, help="runs of each stage (median)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.export, args.base, args.work)))
        return 0

    from bench.transforms import prepare_export

    load_before = os.getloadavg()
    export = prepare_export(args.data, args.rows, args.per_page)
    base = prepare_base(export, args.data, args.changes)

    def run(name: str) -> dict[str, Any]:
        runs = (measure_in_worker(name, export, base, args.data) for _ in range(args.runs))
        return median_run(runs)

    names = ["parquet_pages", "lake_pages", "lake_pages_written"]
    kinds = ("scattered", "recent")
    for kind in kinds:
        names += [f"lake_merge_{kind}", f"lake_merge_dv_{kind}", f"snapshot_rewrite_{kind}"]
    stages = {name: run(name) for name in names}
    seconds = {name: stage["seconds"] for name, stage in stages.items()}
    write_ratio = ratio(seconds["lake_pages"], seconds["parquet_pages"])
    written_ratio = ratio(seconds["lake_pages_written"], seconds["parquet_pages"])
    speedups = {
        f"{merge}_{kind}": ratio(
            seconds[f"snapshot_rewrite_{kind}"], seconds[f"lake_{merge}_{kind}"]
        )
        for kind in kinds
        for merge in ("merge", "merge_dv")
    }
    lake_peak = max(v["peak_rss_mb"] for k, v in stages.items() if k.startswith("lake"))
    payload: dict[str, Any] = {
        "export": {"module": f"crm/{MODULE}", "rows": args.rows, "per_page": args.per_page},
        "changes": args.changes,
        "stages": stages,
        "ratios": {
            "lake_write_seconds_vs_parquet_pages": write_ratio,
            "lake_write_through_delta_rs_vs_parquet_pages": written_ratio,
            **{f"{name}_speedup_vs_snapshot_rewrite": value for name, value in speedups.items()},
        },
        "targets": {
            "lake_write_within_1_3x_parquet": write_ratio is not None and write_ratio <= 1.3,
            **{f"{name}_at_least_10x": (value or 0) >= 10 for name, value in speedups.items()},
            "lake_peak_rss_under_1gb": lake_peak < 1024,
        },
        "checks": {
            "all_rows_written": stages["lake_pages"]["rows"]
            == stages["lake_pages_written"]["rows"]
            == stages["parquet_pages"]["rows"]
            == args.rows,
            "one_row_per_id_after_merge": all(
                stages[f"lake_{merge}_{k}"]["rows"] == args.rows
                for k in kinds
                for merge in ("merge", "merge_dv")
            ),
        },
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "notes": (
            "Each stage runs in its own process, 3 times (median seconds, runs_seconds lists "
            "all, peak RSS the highest); seconds exclude start-up, imports and set-up (copying "
            "the base table). Both write stages read and type the zipped CSVs. The machine is "
            "shared with other jobs (2 cores): load_average shows how busy it was."
        ),
    }
    path = write_result("lake", payload, args.out)
    print(json.dumps({"result": str(path), **payload["ratios"], **payload["targets"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
