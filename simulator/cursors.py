"""Self-contained page tokens: where the next page starts, signed, survives a restart.

A token is ``base64url(JSON payload) + "." + HMAC-SHA256`` (truncated) under a key derived from
the seed, so the simulator keeps no table of tokens, two simulator processes with the same seed
accept each other's tokens, and a changed or made-up token is rejected. The payload holds the
query (org, module, fields, criteria) and the record index the next page starts at, so later
pages never rescan from the start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

_SIGNATURE_BYTES = 16


class CursorCodec:
    def __init__(self, seed: int) -> None:
        self._key = hashlib.sha256(f"zoho-sim-page-token|{seed}".encode()).digest()

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, cursor: dict[str, Any]) -> str:
        payload = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(payload)}"

    def decode(self, token: str) -> dict[str, Any] | None:
        """The cursor of a genuine token, or None for anything else."""
        body, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            cursor = json.loads(payload)
        except ValueError:
            return None
        return cursor if isinstance(cursor, dict) else None
