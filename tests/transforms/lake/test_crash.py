"""A real kill -9 of a process loading a lake table, between pages and inside a commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.transforms.lake.pages import lead, page_zip
from transforms.lake import LakeTable

REPO = Path(__file__).resolve().parents[3]
OLD, NEW = "2025-03-01T10:00:00+00:00", "2025-03-05T09:30:00+00:00"


@pytest.fixture
def zips(tmp_path: Path) -> list[Path]:
    """Two full-load pages (10 rows each) and an incremental page (5 changed, 5 new)."""
    directory = tmp_path / "zips"
    return [
        page_zip(directory, "1001", [lead(n, OLD) for n in range(1, 11)]),
        page_zip(directory, "1002", [lead(n, OLD) for n in range(11, 21)]),
        page_zip(
            directory,
            "2001",
            [lead(n, NEW, Name=f"Changed {n}") for n in range(16, 26)],
        ),
    ]


def _start(root: Path, stop: str, zips: list[Path]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.transforms.lake.crash_writer", str(root), stop]
    return subprocess.Popen(
        [*command, *map(str, zips)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _kill_after(process: subprocess.Popen[str], line: str) -> None:
    with process:  # closes the pipes
        assert process.stdout is not None
        for got in process.stdout:
            if got.strip() == line:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                assert process.returncode == -signal.SIGKILL
                return
        raise AssertionError(f"the writer ended without printing {line!r}")


def _rows(root: Path) -> list[dict[str, object]]:
    table = LakeTable.open(str(root), "crm", "Leads").read()
    return table.drop_columns(["_extracted_at"]).sort_by("id").to_pylist()


def _run_clean(root: Path, zips: list[Path]) -> None:
    process = _start(root, "none", zips)
    process.communicate()
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("stop", "pages", "kill_line", "version_after_kill", "rows_at_kill"),
    [
        ("between", 3, "committed 1001", 0, 10),
        ("inside", 2, "inside 1002", 0, 10),  # inside an append of the full load
        ("inside", 3, "inside 2001", 1, 20),  # inside the merge of the incremental page
    ],
)
def test_killed_writer_leaves_the_last_version_and_a_rerun_is_exact(
    tmp_path: Path,
    zips: list[Path],
    stop: str,
    pages: int,
    kill_line: str,
    version_after_kill: int,
    rows_at_kill: int,
) -> None:
    zips = zips[:pages]
    reference = tmp_path / "reference"
    _run_clean(reference, zips)
    expected = _rows(reference)
    assert len(expected) == (25 if pages == 3 else 20)

    crashed = tmp_path / "crashed"
    _kill_after(_start(crashed, stop, zips), kill_line)
    lake = LakeTable.open(str(crashed), "crm", "Leads")
    assert lake.version == version_after_kill
    assert lake.read().num_rows == rows_at_kill

    _run_clean(crashed, zips)  # the re-run: committed pages are skipped, the rest committed
    assert _rows(crashed) == expected
    assert lake.version == pages - 1  # one commit per page, none twice
