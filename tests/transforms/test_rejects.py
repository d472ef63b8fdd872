from __future__ import annotations

import io
from pathlib import Path

from transforms.rejects import RejectsCollector, read_rejects, record_start_lines

CSV = 'id,Note\n1,"two\nlines"\n\n2,plain\n3,"three\nphysical\nlines"\n4,x\n'


def test_record_start_lines_counts_multi_line_records_and_skips_blank_lines() -> None:
    lines = record_start_lines(io.StringIO(CSV, newline=""), {1, 2, 3, 4})
    assert lines == {1: 2, 2: 5, 3: 6, 4: 9}


def test_collector_writes_reasons_with_line_numbers(tmp_path: Path) -> None:
    collector = RejectsCollector(tmp_path / "out" / "page.rejects.csv", "p.zip:p.csv")
    collector.add(3, "Note", "three\nphysical\nlines", "too long")
    collector.add(3, "id", "3", "second problem, same row")
    collector.add(None, None, "a,b,c", "expected 2 fields, found 3")
    path = collector.finish(lambda: io.StringIO(CSV, newline=""))
    assert path == tmp_path / "out" / "page.rejects.csv"
    rejects = list(read_rejects(path))
    assert [(r.line, r.record, r.column, r.raw_value) for r in rejects] == [
        (6, 3, "Note", "three\nphysical\nlines"),
        (6, 3, "id", "3"),
        (None, None, None, "a,b,c"),
    ]
    assert {r.file for r in rejects} == {"p.zip:p.csv"}
    assert collector.rejected_records == 1


def test_a_clean_rerun_removes_the_stale_rejects_file(tmp_path: Path) -> None:
    path = tmp_path / "page.rejects.csv"
    path.write_text("old")
    collector = RejectsCollector(path, "p")

    def never_opened() -> io.StringIO:
        raise AssertionError("no rejects: the CSV must not be read again")

    assert collector.finish(never_opened) is None
    assert not path.exists()


def test_a_huge_field_leaves_later_line_numbers_unknown() -> None:
    text = 'id,Note\n1,a\n2,"' + "x" * 200_000 + '"\n3,b\n'
    assert record_start_lines(io.StringIO(text, newline=""), {1, 3}) == {1: 2}
