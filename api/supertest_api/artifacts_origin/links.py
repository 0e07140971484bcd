"""Minting artifacts-origin URLs for a viewer the API has already authorised to see a run."""

from __future__ import annotations

from dataclasses import dataclass

from supertest.artifacts import tokens
from supertest.artifacts.layout import REPORT_INDEX, artifact_url
from supertest.settings import ArtifactsSettings
from supertest_api.session import read_or_create_secret

_KEY_FILE = "artifacts.key"


def load_artifacts_key(settings: ArtifactsSettings) -> bytes:
    """ARTIFACTS_SIGNING_KEY, or in local mode a random key kept at $SUPERTEST_HOME/artifacts.key (0600)."""
    if settings.artifacts_signing_key is not None and settings.artifacts_signing_key.get_secret_value():
        return settings.artifacts_signing_key.get_secret_value().encode()
    if not settings.is_local:  # the settings refuse this when ARTIFACTS_URL is set; keep the guard at the use
        raise RuntimeError("ARTIFACTS_SIGNING_KEY must be set outside local mode")
    return read_or_create_secret(settings.home / _KEY_FILE)


WILDCARD_HOST = "://*"


def resolve_origin(origin: str, request_host: str | None) -> str:
    """ARTIFACTS_URL for one request: a `*` host becomes the host name the request came by (same host, own port)."""
    if WILDCARD_HOST not in origin:
        return origin
    host = request_host or "localhost"
    return origin.replace(WILDCARD_HOST, "://" + (f"[{host}]" if ":" in host else host), 1)


@dataclass(frozen=True, slots=True)
class ArtifactLinks:
    origin: str
    key: bytes
    ttl_seconds: int

    def at(self, request_host: str | None) -> ArtifactLinks:
        """These links as seen by a request that came to `request_host`."""
        return ArtifactLinks(resolve_origin(self.origin, request_host), self.key, self.ttl_seconds)

    def url(self, run_id: str, kind: str, relative: str = "") -> str:
        """`relative` (to runs/{runId}/) on the artifacts origin, with a fresh token for the run."""
        token = tokens.mint(self.key, run_id, "job" if kind == "job" else "test", self.ttl_seconds)
        return artifact_url(self.origin, token, run_id, relative)

    def report(self, run_id: str, kind: str) -> str:
        return self.url(run_id, kind, "report/" + REPORT_INDEX)


def artifact_links(settings: ArtifactsSettings) -> ArtifactLinks | None:
    """None when no artifacts origin is configured: then the API hands out no artifact URLs at all."""
    if not settings.artifacts_url:
        return None
    return ArtifactLinks(settings.artifacts_url, load_artifacts_key(settings), settings.artifacts_token_ttl_seconds)
