"""The rejects output: every row that could not be parsed or converted, and why.

A rejected row is never dropped silently. Each problem becomes one `Reject` naming the file,
the physical line where the record starts, the record number (1 = first data row), the
column, the raw value and the reason. A row with two bad values gives two rejects but counts
once in ``rows_rejected``.

`RejectsCollector` streams rejects to a temporary file while the page is read (memory stays
flat even if a whole file is bad), then `finish` resolves physical line numbers with one
extra pass over the CSV, only when there is something to report. The final file is a CSV
with the header ``file,line,record,column,raw_value,reason``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

REJECT_COLUMNS = ("file", "line", "record", "column", "raw_value", "reason")


@dataclass(frozen=True)
class Reject:
    """One value (or one whole row, ``column=None``) that did not make it into the load."""

    file: str
    line: int | None
    record: int | None
    column: str | None
    raw_value: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class RejectsCollector:
    """Collects the rejects of one page and writes them to ``path`` on `finish`.

    ``open_text`` reopens the page's CSV as text; it is called only when rejects exist,
    to turn record numbers into line numbers.
    """

    def __init__(self, path: Path, file_label: str) -> None:
        self.path = path
        self.file_label = file_label
        self.count = 0
        self._rows: set[int] = set()
        self._tmp: IO[str] | None = None
        self._writer: Any = None  # csv writer; its type is private in typeshed

    def add(
        self, record: int | None, column: str | None, raw_value: str | None, reason: str
    ) -> None:
        """Record one problem; ``record`` is the 1-based data record number."""
        if self._tmp is None:  # closed by finish() or close()
            self._tmp = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._tmp)
        self._writer.writerow(["" if record is None else record, column or "", raw_value, reason])
        self.count += 1
        if record is not None:
            self._rows.add(record)

    @property
    def rejected_records(self) -> int:
        """Distinct rejected rows (a row with several bad values counts once)."""
        return len(self._rows)

    def finish(self, open_text: Callable[[], IO[str]]) -> Path | None:
        """Write the rejects file (or remove a stale one); returns its path or None."""
        if self._tmp is None:
            if self.path.exists():
                self.path.unlink()  # an earlier attempt of this page had rejects; this one none
            return None
        lines: dict[int, int] = {}
        if self._rows:
            with open_text() as text:
                lines = record_start_lines(text, self._rows)
        self._tmp.seek(0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(REJECT_COLUMNS)
            for record, column, raw_value, reason in csv.reader(self._tmp):
                line = lines.get(int(record)) if record else None
                line_text = "" if line is None else line
                writer.writerow([self.file_label, line_text, record, column, raw_value, reason])
        os.replace(partial, self.path)
        self._tmp.close()
        self._tmp = None
        return self.path

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.close()
            self._tmp = None


def record_start_lines(text: IO[str], records: Iterable[int]) -> dict[int, int]:
    """Map 1-based data record numbers to the physical line where each record starts.

    Counts records like pyarrow does: the header is not a data record and blank lines are
    skipped. Reads only as far as the largest record asked for.
    """
    wanted = set(records)
    if not wanted:
        return {}
    last = max(wanted)
    reader = csv.reader(text)
    out: dict[int, int] = {}
    previous_end = 0
    record = -1  # the header is record 0
    try:
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not row:
                continue
            record += 1
            if record in wanted:
                out[record] = start
            if record >= last:
                break
    except csv.Error:
        # e.g. a value longer than the csv module's field limit (128 KiB): the rejects keep
        # their record numbers; line numbers from here on stay unknown.
        pass
    return out


def read_rejects(path: Path) -> Iterator[Reject]:
    """Read a rejects file back (tests, reports)."""
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield Reject(
                file=row["file"],
                line=int(row["line"]) if row["line"] else None,
                record=int(row["record"]) if row["record"] else None,
                column=row["column"] or None,
                raw_value=row["raw_value"],
                reason=row["reason"],
            )


def text_stream(binary: IO[bytes]) -> IO[str]:
    """Wrap a binary CSV stream as text the way Zoho encodes it (UTF-8, optional BOM)."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
