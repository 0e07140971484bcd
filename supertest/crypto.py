"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the key from SECRETS_KEY.

Local mode without SECRETS_KEY keeps a random key in SUPERTEST_HOME/secrets.key (0600), like the session
secret; elsewhere there is no fallback: storing or reading a secret without the key is a clear error.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from supertest.settings import CoreSettings

_KEY_FILE = "secrets.key"


class SecretsUnavailable(Exception):
    """No SECRETS_KEY (outside local mode), or a stored secret that this key cannot decrypt."""


class SecretBox:
    def __init__(self, fernet: Fernet | None, why: str = "SECRETS_KEY is not set") -> None:
        self._fernet = fernet
        self._why = why

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def encrypt(self, plain: str) -> str:
        if self._fernet is None:
            raise SecretsUnavailable(f"cannot store a secret: {self._why}")
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        if self._fernet is None:
            raise SecretsUnavailable(f"cannot read a stored secret: {self._why}")
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretsUnavailable(
                "a stored secret does not decrypt with this SECRETS_KEY (was it rotated?)"
            ) from exc


def load_secret_box(settings: CoreSettings) -> SecretBox:
    if settings.secrets_key is not None:
        return SecretBox(Fernet(settings.secrets_key.get_secret_value().encode()))
    if settings.is_local:
        return SecretBox(Fernet(_read_or_create(settings.home / _KEY_FILE)))
    return SecretBox(None, "SECRETS_KEY is not set (required outside local mode to store secrets)")


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    key = Fernet.generate_key()
    with os.fdopen(fd, "w") as fh:
        fh.write(key.decode() + "\n")
    return key
