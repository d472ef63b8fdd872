"""Join Zoho's bulk write result files back to every input row, exactly.

Zoho returns, per job, a zip holding one CSV: the first (up to three) mapped columns as
uploaded, then ``STATUS``, ``RECORD_ID`` and ``ERRORS`` (docs/zoho-bulk-api.md §2.6).
Rows come back in upload order, so row *i* of a job's result is row *i* of its chunk,
which `Chunk.rows` maps to an input row. The echoed columns are compared with what was
sent, so a shuffled or truncated result is an error rather than a silent mis-join.

The per-row result table (`RESULT_SCHEMA`) covers every input row exactly once:

=========  ==============================================================
status     ADDED / UPDATED / SKIPPED (Zoho), FAILED (Zoho ``UNPROCESSED``
           or a job that failed), REJECTED (pre-flight; never sent),
           UNKNOWN (a STATUS cell this tool does not know; the raw value is in
           ``message``, nothing is guessed)
errors     list of {code, fields}; ``CODE-a,b:CODE2-c`` parsed
=========  ==============================================================

so ``rows == added + updated + skipped + failed + rejected + unknown`` (checked by
`summarize`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from connectors.errors import CorruptZipError
from connectors.zipcheck import ZipLimits, check_zip_bytes, read_members
from transforms.writeback.errors import ReconciliationError
from transforms.writeback.render import as_text
from transforms.writeback.validate import Preflight

STATUSES = ("ADDED", "UPDATED", "SKIPPED", "FAILED", "REJECTED", "UNKNOWN")
RESULT_COLUMNS = ("STATUS", "RECORD_ID", "ERRORS")

#: Zoho's STATUS cell values (spelling UNCERTAIN, docs §2.6) -> our status.
ZOHO_STATUS = {
    "ADDED": "ADDED",
    "INSERTED": "ADDED",
    "CREATED": "ADDED",
    "UPDATED": "UPDATED",
    "SKIPPED": "SKIPPED",
    "UNPROCESSED": "FAILED",
    "FAILED": "FAILED",
    "ERROR": "FAILED",
}

_JOB_FAILED = {"code": "JOB_FAILED", "fields": []}
ERROR_TYPE = pa.struct([("code", pa.string()), ("fields", pa.list_(pa.string()))])
RESULT_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("key", pa.string()),
        ("status", pa.string()),
        ("record_id", pa.string()),
        ("errors", pa.list_(ERROR_TYPE)),
        ("message", pa.string()),
        ("chunk", pa.int32()),
        ("job_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class ChunkOutcome:
    """What became of one chunk: its job id and result CSV, or why the job failed."""

    chunk_index: int
    rows: np.ndarray
    job_id: str | None
    result: pa.Table | None = None
    failure: str | None = None


def parse_errors(cell: str | None) -> list[dict[str, Any]]:
    """``MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email`` -> [{code, fields}]."""
    if not cell:
        return []
    out: list[dict[str, Any]] = []
    for part in cell.split(":"):
        part = part.strip()
        if not part:
            continue
        code, sep, columns = part.partition("-")
        fields = [c.strip() for c in columns.split(",") if c.strip()] if sep else []
        out.append({"code": code.strip(), "fields": fields})
    return out


def format_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """The inverse of `parse_errors` (used for flat warehouse columns)."""
    return ":".join(
        f"{e['code']}-{','.join(e['fields'])}" if e["fields"] else str(e["code"]) for e in errors
    )


#: what a result row adds to the columns it echoes: STATUS, a 19-digit RECORD_ID, ERRORS
RESULT_BYTES_PER_ROW = 4096
#: a result over this many bytes that deflates more than 200:1 is a bomb, not a CSV
RESULT_RATIO_FLOOR = 8 * 1024**2
#: the cap of a result whose upload is not at hand (25,000 rows of wide text)
DEFAULT_RESULT_BYTES = 256 * 1024**2


def result_limits(sent_zip: bytes | None = None, rows: int = 0, members: int = 1) -> ZipLimits:
    """The caps of a bulk write result: what was sent (``sent_zip``) plus a few columns a row.

    A result echoes at most the first three mapped columns of the rows sent and adds three
    short ones, so it cannot honestly be larger than the upload's CSV plus
    ``RESULT_BYTES_PER_ROW`` a row; anything larger is refused before it fills memory.
    """
    cap = DEFAULT_RESULT_BYTES
    if sent_zip is not None:
        sent = check_zip_bytes(sent_zip, upload_limits(members), where="upload")
        cap = 1024**2 + sum(m.file_size for m in sent) + rows * RESULT_BYTES_PER_ROW
    return ZipLimits(
        max_members=members,
        max_member_bytes=cap,
        max_total_bytes=cap,
        max_ratio=200.0,
        ratio_floor_bytes=RESULT_RATIO_FLOOR,
        kind="a bulk write result",
    )


def upload_limits(members: int = 1) -> ZipLimits:
    """The caps of an upload zip the tool built (25 MB zipped, one CSV per resource)."""
    return ZipLimits(
        max_members=members,
        max_member_bytes=DEFAULT_RESULT_BYTES,
        max_total_bytes=DEFAULT_RESULT_BYTES,
        max_ratio=1000.0,
        kind="a bulk write upload",
    )


def read_result_csvs(data: bytes, job_id: str, limits: ZipLimits) -> dict[str, bytes]:
    """The CSVs of a result zip, read under ``limits`` (connectors.zipcheck).

    A damaged zip is a `ReconciliationError`; an unsafe one (too many members, traversal,
    encryption, too large, too compressed) a ``ZipRejectedError`` naming the job.
    """
    try:
        return read_members(data, limits, where=f"job {job_id} result")
    except CorruptZipError as exc:
        raise ReconciliationError(job_id, f"result is not a valid zip ({exc})") from None


def read_result_zip(data: bytes, job_id: str = "?", limits: ZipLimits | None = None) -> pa.Table:
    """The CSV inside a result zip as a table of strings (read under ``limits``)."""
    members = read_result_csvs(data, job_id, limits or result_limits())
    if len(members) != 1:
        raise ReconciliationError(job_id, f"result zip holds {len(members)} CSV files")
    return read_result_csv(next(iter(members.values())), job_id)


def read_result_csv(payload: bytes, job_id: str = "?") -> pa.Table:
    """Parse a result CSV with every column as text (record ids stay exact)."""
    first_line = payload.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
    column_names = next(csv.reader([first_line]), [])
    missing = [c for c in RESULT_COLUMNS if c not in column_names]
    if missing:
        raise ReconciliationError(job_id, f"result CSV has no {', '.join(missing)} column")
    return pacsv.read_csv(
        io.BytesIO(payload),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in column_names},
            # only an empty cell is null: "NULL", "NA" or "N/A" are values a row may hold
            # (pyarrow's default null spellings would turn the echo of a company "N/A" into
            # a mismatch with what was sent)
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def reconcile(preflight: Preflight, outcomes: Sequence[ChunkOutcome]) -> pa.Table:
    """Build the per-row result table for every input row of ``preflight``."""
    n = preflight.total_rows
    parts: list[pa.Table] = [_rejected_part(preflight)]
    for outcome in outcomes:
        parts.append(_chunk_part(preflight, outcome))
    table = pa.concat_tables(parts).sort_by("row")
    rows = table.column("row").to_numpy()
    if len(rows) != n or not np.array_equal(rows, np.arange(n)):
        seen = np.bincount(rows, minlength=n) if len(rows) else np.zeros(n, dtype=np.int64)
        lost = int((seen == 0).sum())
        twice = int((seen > 1).sum())
        raise ReconciliationError(
            ",".join(o.job_id or "-" for o in outcomes),
            f"{lost} input rows have no outcome and {twice} have more than one",
        )
    return table


def summarize(results: pa.Table) -> dict[str, int]:
    """Counts per status; checks they add up to the rows.

    ``unknown`` (rows whose STATUS this tool does not know) is there only when not zero.
    """
    counts = {s.lower(): 0 for s in STATUSES}
    values = pc.value_counts(results.column("status").combine_chunks()).to_pylist()
    for item in values:
        status = str(item["values"])
        if status not in STATUSES:
            raise ReconciliationError("-", f"unknown status {status!r} in results")
        counts[status.lower()] = int(item["counts"])
    if sum(counts.values()) != results.num_rows:
        raise ReconciliationError("-", "status counts do not add up to the input rows")
    if not counts["unknown"]:
        del counts["unknown"]
    counts["rows"] = results.num_rows
    return counts


def _rejected_part(preflight: Preflight) -> pa.Table:
    issues = preflight.issues
    rejected = preflight.rejected_rows
    if len(rejected) == 0:
        return RESULT_SCHEMA.empty_table()
    grouped = (
        issues.group_by(["row", "code"], use_threads=False)
        .aggregate([("api_name", "list"), ("message", "list")])
        .sort_by([("row", "ascending"), ("code", "ascending")])
    )
    by_row: dict[int, tuple[list[dict[str, Any]], list[str]]] = {}
    for item in grouped.to_pylist():
        errors, messages = by_row.setdefault(int(item["row"]), ([], []))
        errors.append({"code": item["code"], "fields": sorted(item["api_name_list"])})
        messages.extend(
            f"{f}: {m}" for f, m in zip(item["api_name_list"], item["message_list"], strict=True)
        )
    idx = pa.array(rejected, pa.int64())
    return pa.table(
        {
            "row": idx,
            "key": preflight.keys.take(idx),
            "status": pa.repeat("REJECTED", len(rejected)),
            "record_id": pa.nulls(len(rejected), pa.string()),
            "errors": pa.array([by_row[int(r)][0] for r in rejected], pa.list_(ERROR_TYPE)),
            "message": pa.array(["; ".join(by_row[int(r)][1]) for r in rejected], pa.string()),
            "chunk": pa.nulls(len(rejected), pa.int32()),
            "job_id": pa.nulls(len(rejected), pa.string()),
        },
        schema=RESULT_SCHEMA,
    )


def _chunk_part(preflight: Preflight, outcome: ChunkOutcome) -> pa.Table:
    rows = np.asarray(outcome.rows, dtype=np.int64)
    idx = pa.array(rows, pa.int64())
    m = len(rows)
    job = outcome.job_id or f"chunk {outcome.chunk_index}"
    if outcome.result is None:
        reason = outcome.failure or "job did not complete"
        return pa.table(
            {
                "row": idx,
                "key": preflight.keys.take(idx),
                "status": pa.repeat("FAILED", m),
                "record_id": pa.nulls(m, pa.string()),
                "errors": pa.array([[_JOB_FAILED]] * m, pa.list_(ERROR_TYPE)),
                "message": pa.repeat(reason, m),
                "chunk": pa.repeat(pa.scalar(outcome.chunk_index, pa.int32()), m),
                "job_id": pa.repeat(pa.scalar(outcome.job_id, pa.string()), m),
            },
            schema=RESULT_SCHEMA,
        )
    result = outcome.result
    if result.num_rows != m:
        raise ReconciliationError(job, f"{result.num_rows} result rows for {m} rows sent")
    _check_echo(preflight, result, idx, job)
    raw_status = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(result.column("STATUS"), "")))
    known = pa.array(list(ZOHO_STATUS), pa.string())
    mapped = pa.array(list(ZOHO_STATUS.values()), pa.string()).take(pc.index_in(raw_status, known))
    unknown = pc.is_null(mapped)
    error_cells = result.column("ERRORS").to_pylist()
    if pc.any(unknown).as_py():
        mapped = pc.fill_null(mapped, "UNKNOWN")
        raw = result.column("STATUS").to_pylist()
        for i in np.flatnonzero(unknown.to_numpy(zero_copy_only=False)):
            note = f"unknown STATUS value {raw[i]!r} in the result of job {job}"
            error_cells[i] = f"{note}; {error_cells[i]}" if error_cells[i] else note
    cells = result.column("ERRORS").to_pylist()
    errors = pa.array([parse_errors(c) for c in cells], pa.list_(ERROR_TYPE))
    record_id = pc.utf8_trim_whitespace(result.column("RECORD_ID").combine_chunks())
    record_id = pc.if_else(pc.equal(record_id, ""), pa.scalar(None, pa.string()), record_id)
    return pa.table(
        {
            "row": idx,
            "key": preflight.keys.take(idx),
            "status": mapped,
            "record_id": record_id,
            "errors": errors,
            "message": pa.array(error_cells, pa.string()),
            "chunk": pa.repeat(pa.scalar(outcome.chunk_index, pa.int32()), m),
            "job_id": pa.repeat(pa.scalar(outcome.job_id, pa.string()), m),
        },
        schema=RESULT_SCHEMA,
    )


def _check_echo(preflight: Preflight, result: pa.Table, idx: pa.Array, job: str) -> None:
    """The echoed first mapped columns must equal what was sent, row by row."""
    sent = preflight.rendered
    for name in result.column_names:
        if name in RESULT_COLUMNS or name not in sent.column_names:
            continue
        expected = pc.fill_null(as_text(sent.column(name).combine_chunks().take(idx)), "")
        got = pc.fill_null(result.column(name), "")
        same = pc.equal(pc.utf8_trim_whitespace(expected), pc.utf8_trim_whitespace(got))
        if not pc.all(same).as_py():
            pos = int(np.flatnonzero(~same.to_numpy(zero_copy_only=False))[0])
            raise ReconciliationError(
                job,
                f"result row {pos} column {name} is {got[pos].as_py()!r}, "
                f"but {expected[pos].as_py()!r} was sent at that position",
            )


# ------------------------------------------------------------------------------ outputs


def write_results_parquet(results: pa.Table, path: str | Path) -> Path:
    """Write the result table to one Parquet file (zstd)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(results, path, compression="zstd")
    return path


def flat_results(results: pa.Table) -> pa.Table:
    """The result table with ``errors`` as ``CODE-a,b:CODE2-c`` text, for SQL warehouses."""
    errors = [format_errors(e) or None for e in results.column("errors").to_pylist()]
    position = results.schema.get_field_index("errors")
    return results.set_column(position, "errors", pa.array(errors, pa.string()))


def apply_record_ids(source: pa.Table, results: pa.Table, column: str = "zoho_id") -> pa.Table:
    """Return ``source`` with ``column`` holding the Zoho id of every added/updated row.

    Rows that were not written keep their previous value in ``column`` (null if new).
    """
    n = source.num_rows
    written = pc.is_in(results.column("status"), value_set=pa.array(["ADDED", "UPDATED"]))
    chosen = results.filter(written)
    ids = np.full(n, None, dtype=object)
    if column in source.column_names:
        ids[:] = source.column(column).cast(pa.string()).to_pylist()
    positions = chosen.column("row").to_numpy()
    ids[positions] = chosen.column("record_id").to_pylist()
    array = pa.array(ids.tolist(), pa.string())
    if column in source.column_names:
        return source.set_column(source.schema.get_field_index(column), column, array)
    return source.append_column(column, array)
