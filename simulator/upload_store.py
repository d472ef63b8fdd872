"""Uploaded files of one simulated Zoho (``SimState.uploads``; emptied by a reset)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded zip, usable by one bulk write job of the same org and product."""

    file_id: str
    org_key: str
    product: str
    data: bytes
    created_at: float


class UploadStore:
    """Uploaded files of one ``SimState``; emptied when the state is reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, UploadedFile] = {}
        self._counter = itertools.count(1)

    def add(self, org_key: str, id_prefix: int, product: str, data: bytes, now: float) -> str:
        with self._lock:
            file_id = str(id_prefix * 10**12 + 1_492_000 + next(self._counter))
            self._files[file_id] = UploadedFile(file_id, org_key, product, data, now)
        return file_id

    def get(self, file_id: str) -> UploadedFile | None:
        with self._lock:
            return self._files.get(file_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)
