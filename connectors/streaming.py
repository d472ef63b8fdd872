"""Stream an HTTP answer to a file: bounded memory, a size cap, length and digest checks.

``ZohoHttp.download_to`` sends the (metered, authenticated) GET and hands the streamed
answer here; a body that stops early raises ``ConnectionDroppedError`` so the caller
downloads it again from the start.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import requests

from connectors.errors import ConnectionDroppedError, UnexpectedResponseError
from connectors.responses import error_for, json_or_none, parse_error_body

log = logging.getLogger("connectors.http")


@dataclass(frozen=True)
class DownloadResult:
    """A file streamed to disk: where, how big, and its sha256."""

    path: Path
    size: int
    sha256: str


def stream_to_file(
    response: requests.Response,
    dest: Path,
    path: str,
    chunk_size: int,
    max_bytes: int | None,
) -> DownloadResult:
    """Write ``response``'s body to ``dest`` via ``dest.part``; nothing is left at ``dest``
    unless the whole body arrived (``path`` names the request in errors)."""
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        payload = json_or_none(response)
        body = parse_error_body(payload)
        response.close()
        if body is not None:
            raise error_for(response.status_code, body, method="GET", path=path)
        raise UnexpectedResponseError(
            "expected a file, got JSON",
            http_status=response.status_code,
            method="GET",
            path=path,
        )
    expected = _int_or_none(response.headers.get("Content-Length"))
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with response, open(part, "wb") as out:
            for chunk in response.iter_content(chunk_size=chunk_size):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise UnexpectedResponseError(
                        f"download is larger than the cap of {max_bytes} bytes",
                        method="GET",
                        path=path,
                    )
                digest.update(chunk)
                out.write(chunk)
    except requests.RequestException as exc:
        _unlink(part)
        raise ConnectionDroppedError(
            f"download interrupted after {size} bytes ({type(exc).__name__})",
            method="GET",
            path=path,
        ) from None
    except BaseException:
        _unlink(part)
        raise
    if expected is not None and size != expected:
        _unlink(part)
        raise ConnectionDroppedError(
            f"download ended after {size} of {expected} bytes", method="GET", path=path
        )
    os.replace(part, dest)
    log.debug("downloaded %s: %d bytes to %s", path, size, dest.name)
    return DownloadResult(path=dest, size=size, sha256=digest.hexdigest())


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
