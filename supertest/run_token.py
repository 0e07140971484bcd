"""Per-run tokens: what a run pod holds instead of any platform credential.

HMAC-SHA256 over compact JSON claims (namespace, run name, kind, expiry), signed with a key only the API and
operator hold. The operator mints one per pod into a Secret owned by the run; the API's ingest endpoints accept
it for that one run's stream, writes under its `runs/{name}/` prefix and reads under `runs/{name}/shards/` (the
merge step's input), until it expires (the pod's deadline + grace), or until the run ends: the API refuses a token
issued before the run's recorded completion (`revoked_by`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

# Claims are short, but a token is an HTTP header: refuse anything oversized before decoding it.
MAX_TOKEN_CHARS = 2048


class InvalidRunToken(ValueError):
    """Bad signature, malformed, expired, or for another run; the message says which, never the key."""


@dataclass(frozen=True, slots=True)
class RunClaims:
    namespace: str
    name: str
    kind: str  # "test" | "job": which bucket its artifacts go to
    expires_at: int  # epoch seconds
    # Epoch seconds; 0 for tokens minted before this claim existed (they are only ever refused by expiry).
    issued_at: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def mint(key: bytes, claims: RunClaims) -> str:
    payload = {"ns": claims.namespace, "run": claims.name, "kind": claims.kind, "exp": claims.expires_at}
    if claims.issued_at:
        payload["iat"] = claims.issued_at
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_signature(key, body)}"


def verify(key: bytes, token: str, namespace: str, name: str, now: float | None = None) -> RunClaims:
    """The token's claims if it is genuine, unexpired and for exactly this run; InvalidRunToken otherwise."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidRunToken("malformed run token")
    body, signature = token.split(".")
    if not hmac.compare_digest(signature, _signature(key, body)):
        raise InvalidRunToken("run token signature does not match")
    try:
        payload = json.loads(_unb64(body))
        claims = RunClaims(
            str(payload["ns"]),
            str(payload["run"]),
            str(payload["kind"]),
            int(payload["exp"]),
            int(payload.get("iat", 0)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRunToken("malformed run token claims") from exc
    if claims.expires_at <= (time.time() if now is None else now):
        raise InvalidRunToken("run token expired")
    if claims.namespace != namespace or claims.name != name:
        raise InvalidRunToken("run token is for another run")
    return claims


def revoked_by(claims: RunClaims, completed_at: float | None) -> bool:
    """Whether the run's recorded end (epoch seconds; None while it runs) revokes this token. Only a token issued
    before that end is refused: a retried attempt's pod, or a new run that reuses the name, holds a newer one."""
    return completed_at is not None and claims.issued_at <= completed_at
