"""Signed UI session cookies: HMAC-SHA256 over a small JSON payload with an issue time.

Standard library only; the cookie carries the API key's id (never the key) and is re-checked
against the key's row on every request, so revoking a key ends its sessions too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from supertest.settings import ApiSettings

COOKIE_NAME = "supertest_session"
SESSION_MAX_AGE_SECONDS = 12 * 3600
_SECRET_FILE = "session.key"  # noqa: S105 - a file name, not a secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes, max_age: int = SESSION_MAX_AGE_SECONDS) -> None:
        self._secret = secret
        self.max_age = max_age

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def sign(self, payload: dict[str, Any], now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        body = f"{_b64(json.dumps(payload, separators=(',', ':')).encode())}.{issued}"
        return f"{body}.{self._mac(body)}"

    def unsign(self, token: str, now: float | None = None) -> dict[str, Any] | None:
        """The payload, or None when the signature is wrong, the token malformed or expired."""
        try:
            data, issued_text, mac = token.split(".")
            body = f"{data}.{issued_text}"
            if not hmac.compare_digest(mac, self._mac(body)):
                return None
            age = (now if now is not None else time.time()) - int(issued_text)
            if age < -60 or age > self.max_age:
                return None
            payload = json.loads(_unb64(data))
        except (ValueError, json.JSONDecodeError):
            return None
        return payload if isinstance(payload, dict) else None


def load_session_secret(settings: ApiSettings) -> bytes:
    """SESSION_SECRET, or in local mode a random secret kept at $SUPERTEST_HOME/session.key (0600)."""
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value().encode()
    if not settings.is_local:  # ApiSettings already refuses this; keep the guard close to the use
        raise RuntimeError("SESSION_SECRET must be set outside local mode")
    path = settings.home / _SECRET_FILE
    return read_or_create_secret(path)


def read_or_create_secret(path: Path) -> bytes:
    """A random secret kept in a 0600 file of local mode's state folder, created on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) >= 32:
            return secret.encode()
        raise RuntimeError(f"{path} is too short to be a session secret; delete it to regenerate") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret.encode()
