"""A download streamed to disk: digest and length checked, nothing left behind, errors read."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.credits import CallType
from connectors.errors import ConnectionDroppedError
from tests.connectors.fakes import BASE, FakeZoho, Reply, client, error


def test_download_streams_to_disk_with_sha256(tmp_path: Path) -> None:
    import hashlib

    body = b"x" * 3_000_001
    fake = FakeZoho()
    fake.route(
        "GET",
        "/f",
        lambda c: Reply(
            200,
            raw=body,
            headers={"Content-Type": "application/x-download", "Content-Length": str(len(body))},
        ),
    )
    result = client(fake).download_to(
        BASE + "/f", tmp_path / "f.zip", call_type=CallType.BULK_READ_DOWNLOAD, chunk_size=65536
    )
    assert result.size == len(body)
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert (tmp_path / "f.zip").read_bytes() == body
    assert not (tmp_path / "f.zip.part").exists()


def test_short_download_is_retried_and_leaves_nothing_behind(tmp_path: Path) -> None:
    fake = FakeZoho()
    short = Reply(
        200, raw=b"abc", headers={"Content-Type": "application/x-download", "Content-Length": "10"}
    )
    fake.route("GET", "/f", lambda c: short)
    with pytest.raises(ConnectionDroppedError, match="3 of 10 bytes"):
        client(fake).download_to(
            BASE + "/f", tmp_path / "f.zip", call_type=CallType.BULK_READ_DOWNLOAD
        )
    assert fake.count("GET", "/f") == 4
    assert list(tmp_path.iterdir()) == []


def test_json_answer_to_a_download_is_an_error(tmp_path: Path) -> None:
    fake = FakeZoho()
    fake.route("GET", "/f", lambda c: error(404, "RESOURCE_NOT_FOUND", "gone"))
    from connectors.errors import NotFoundError

    with pytest.raises(NotFoundError, match="gone"):
        client(fake).download_to(
            BASE + "/f", tmp_path / "f.zip", call_type=CallType.BULK_READ_DOWNLOAD
        )
    assert list(tmp_path.iterdir()) == []
