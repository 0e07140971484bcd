from __future__ import annotations

import secrets


def new_id() -> str:
    return secrets.token_hex(8)


def new_run_id(kind: str) -> str:
    """A DNS label, so the same id names the Kubernetes resource, its pod and its S3 prefix."""
    return f"{'tr' if kind == 'test' else 'jr'}-{secrets.token_hex(6)}"
