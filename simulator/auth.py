"""OAuth: refresh-token grants, access tokens per data centre, revocation."""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict, deque
from dataclasses import dataclass

from simulator.clock import SimClock
from simulator.config import OrgSpec
from simulator.errors import OAuthError, invalid_token

AUTH_PREFIXES = ("Zoho-oauthtoken ", "Bearer ")
TOKEN_WINDOW = 600.0


@dataclass(frozen=True)
class AccessToken:
    org_key: str
    dc: str
    expires_at: float


class TokenRegistry:
    """Issued access tokens and revoked refresh tokens (tokens are never logged)."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._tokens: dict[str, AccessToken] = {}
        self._revoked_refresh: set[str] = set()
        self._minted: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def refresh(
        self,
        orgs: list[OrgSpec],
        dc: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        ttl: float,
        rate_limit: int | None = None,
    ) -> tuple[OrgSpec, str]:
        """Mint an access token, or raise ``OAuthError`` like Zoho Accounts."""
        client = [o for o in orgs if o.client_id == client_id]
        if not client or client[0].dc != dc:
            raise OAuthError("invalid_client")
        org = client[0]
        if not secrets.compare_digest(org.client_secret, client_secret):
            raise OAuthError("invalid_client_secret")
        with self._lock:
            revoked = refresh_token in self._revoked_refresh
        if revoked or not secrets.compare_digest(org.refresh_token, refresh_token):
            raise OAuthError("invalid_code")
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        now = self._clock.now()
        with self._lock:
            minted = self._minted[org.key]
            while minted and minted[0] <= now - TOKEN_WINDOW:
                minted.popleft()
            if rate_limit is not None and len(minted) >= rate_limit:
                raise TokenRateLimited()
            minted.append(now)
            self._tokens[token] = AccessToken(org.key, dc, now + ttl)
        return org, token

    def validate(self, authorization: str | None, dc: str) -> str:
        """The org key of a valid token for this data centre, else 401 INVALID_TOKEN."""
        if not authorization:
            raise invalid_token()
        token = next(
            (authorization[len(p) :] for p in AUTH_PREFIXES if authorization.startswith(p)), None
        )
        with self._lock:
            info = self._tokens.get(token.strip()) if token else None
        if info is None or info.dc != dc or info.expires_at <= self._clock.now():
            raise invalid_token()
        return info.org_key

    def revoke_access_tokens(self, org_key: str) -> int:
        with self._lock:
            doomed = [t for t, info in self._tokens.items() if info.org_key == org_key]
            for t in doomed:
                del self._tokens[t]
        return len(doomed)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        with self._lock:
            self._revoked_refresh.add(refresh_token)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._revoked_refresh.clear()
            self._minted.clear()


class TokenRateLimited(OAuthError):
    """Too many access tokens from one refresh token in 10 minutes (Zoho Accounts limit)."""

    status_code = 400

    def __init__(self) -> None:
        super().__init__("Access Denied")

    def body(self) -> dict[str, str]:
        return {
            "error_description": "You have made too many requests continuously. "
            "Please try again after some time.",
            "error": "Access Denied",
            "status": "failure",
        }
