from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.errors import InvalidIdentifierError
from transforms.parquet import (
    BackgroundPageWriter,
    PageParquetWriter,
    open_page_writer,
    partition_dir,
    prune_landing,
    remove_landing,
)

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64()), ("tags", pa.list_(pa.string()))])
WHEN = datetime(2025, 3, 2, 23, 30, tzinfo=UTC)


def batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "id": [str(i) for i in range(start, start + rows)],
            "n": list(range(start, start + rows)),
            "tags": [["a", "b"]] * rows,
        },
        schema=SCHEMA,
    )


def page_writer(root: Path, job_id: str, row_group_rows: int = 1000) -> PageParquetWriter:
    return open_page_writer(
        root,
        product="crm",
        module="Leads",
        extracted_at=WHEN,
        run_id="run1",
        file_stem=job_id,
        schema=SCHEMA,
        row_group_rows=row_group_rows,
    )


def write_page(
    root: Path, job_id: str, batches: list[pa.RecordBatch], row_group_rows: int = 1000
) -> tuple[Path, ...]:
    with page_writer(root, job_id, row_group_rows) as writer:
        for b in batches:
            writer.write(b)
        return writer.commit()


def test_hive_layout_zstd_and_row_groups(tmp_path: Path) -> None:
    files = write_page(tmp_path, "111", [batch(0, 700), batch(700, 700), batch(1400, 100)])
    assert files == (tmp_path / "crm/Leads/extracted_date=2025-03-02/run=run1/111-0000.parquet",)
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.num_rows == 1500
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 500]
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert not list((tmp_path / "_incoming").iterdir())


def test_rewriting_a_page_replaces_it(tmp_path: Path) -> None:
    write_page(tmp_path, "111", [batch(0, 50)])
    write_page(tmp_path, "222", [batch(50, 10)])
    write_page(tmp_path, "111", [batch(0, 20)])
    dataset = f"{tmp_path}/crm/Leads/**/*.parquet"
    count = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{dataset}', hive_partitioning = true)"
    ).fetchall()
    assert count == [(30,)]


def test_readable_by_duckdb_and_pandas_with_partition_columns(tmp_path: Path) -> None:
    write_page(tmp_path, "111", [batch(0, 5)])
    files = f"{tmp_path}/crm/Leads/**/*.parquet"
    rows = duckdb.sql(
        f"SELECT id, tags, extracted_date, run FROM read_parquet('{files}', "
        "hive_partitioning = true) ORDER BY n LIMIT 1"
    ).fetchall()
    assert rows[0][0:2] == ("0", ["a", "b"])
    assert str(rows[0][2]) == "2025-03-02"
    frame = pd.read_parquet(tmp_path / "crm" / "Leads")
    assert len(frame) == 5
    assert set(frame.columns) >= {"id", "n", "tags", "extracted_date", "run"}


def test_an_aborted_page_leaves_the_previous_files(tmp_path: Path) -> None:
    first = write_page(tmp_path, "111", [batch(0, 5)])
    writer = open_page_writer(
        tmp_path,
        product="crm",
        module="Leads",
        extracted_at=WHEN,
        run_id="run1",
        file_stem="111",
        schema=SCHEMA,
    )

    def killed_while_writing() -> None:
        with writer:
            writer.write(batch(0, 3))
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed_while_writing()
    assert pq.read_table(first[0]).num_rows == 5
    assert not list((tmp_path / "_incoming").iterdir())


def test_empty_page_still_leaves_a_readable_file(tmp_path: Path) -> None:
    files = write_page(tmp_path, "111", [])
    assert pq.read_table(files[0]).num_rows == 0


def test_partition_values_are_checked() -> None:
    with pytest.raises(InvalidIdentifierError):
        partition_dir(Path("/x"), "crm", "Leads", WHEN, "../../etc")
    with pytest.raises(InvalidIdentifierError):
        partition_dir(Path("/x"), "crm", "Le/ads", WHEN, "r")


def _writer(root: Path, job_id: str) -> BackgroundPageWriter:
    return BackgroundPageWriter(page_writer(root, job_id), depth=2)


def test_the_background_writer_writes_every_batch_in_order(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "p1")
    for start in range(0, 5000, 500):
        writer.write(batch(start, 500))
    writer.finish()
    files = writer.commit()
    table = pq.read_table(files[0])
    assert table.column("n").to_pylist() == list(range(5000))
    assert pq.ParquetFile(files[0]).metadata.num_row_groups == 5


def test_a_background_write_failure_is_raised_and_the_partition_is_untouched(
    tmp_path: Path,
) -> None:
    (kept,) = write_page(tmp_path, "p1", [batch(0, 10)])
    writer = _writer(tmp_path, "p1")
    wrong = pa.record_batch({"other": [1]})  # not the page's schema: the thread fails
    writer.write(wrong)
    for start in range(0, 3000, 100):  # the thread keeps draining: no write blocks
        try:
            writer.write(batch(start, 100))
        except (pa.ArrowInvalid, ValueError, KeyError):
            break
    with pytest.raises((pa.ArrowInvalid, ValueError, KeyError)):
        writer.commit()
    writer.abort()
    assert pq.read_table(kept).column("n").to_pylist() == list(range(10))
    assert not list((tmp_path / "_incoming").iterdir())


def test_remove_landing_deletes_the_page_and_its_empty_partition(tmp_path: Path) -> None:
    first = write_page(tmp_path, "111", [batch(0, 10)])
    second = write_page(tmp_path, "222", [batch(10, 10)])
    remove_landing(first)
    partition = tmp_path / "crm/Leads/extracted_date=2025-03-02/run=run1"
    assert sorted(partition.iterdir()) == list(second)  # the other page stays
    remove_landing(second)
    assert not (tmp_path / "crm/Leads/extracted_date=2025-03-02").exists()
    assert (tmp_path / "crm/Leads").is_dir()


def test_prune_landing_deletes_the_days_before_the_cutoff(tmp_path: Path) -> None:
    old = write_page(tmp_path, "111", [batch(0, 10)])  # extracted 2025-03-02
    newer = open_page_writer(
        tmp_path, product="crm", module="Leads", extracted_at=datetime(2025, 3, 4, tzinfo=UTC),
        run_id="run2", file_stem="222", schema=SCHEMA,
    )  # fmt: skip
    newer.write(batch(10, 10))
    kept = newer.commit()
    removed = prune_landing(tmp_path, "crm", "Leads", datetime(2025, 3, 4, 12, tzinfo=UTC))
    assert removed == [tmp_path / "crm/Leads/extracted_date=2025-03-02"]
    assert not old[0].exists()
    assert kept[0].exists()
