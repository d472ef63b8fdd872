"""Zip archives for the zip tests: a small CSV and a zip of named members."""

from __future__ import annotations

import zipfile
from pathlib import Path

CSV = b"id,Last_Name\n1,Smith\n2,Jones\n"


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path
