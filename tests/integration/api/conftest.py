"""Reuse the API unit fixtures (migrated SQLite, fake launcher, live uvicorn) for browser-level checks."""

from __future__ import annotations

from tests.unit.api.conftest import (
    anon,
    api_key,
    bus,
    client,
    db,
    home,
    launcher,
    live,
    migrated_template,
    settings,
)

__all__ = [
    "anon",
    "api_key",
    "bus",
    "client",
    "db",
    "home",
    "launcher",
    "live",
    "migrated_template",
    "settings",
]
