"""API keys are trusted for API_KEY_CACHE_SECONDS after a lookup: no database work for a key seen just now, and a
revoked key stops working once that time is up (the documented revocation delay)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app
from supertest_api.keycache import MAX_ENTRIES, KeyCache

from supertest.bus.memory import MemoryEventBus
from supertest.db import apikeys
from supertest.db.engine import session_scope
from supertest.db.models import ApiKeyRecord
from tests.k8s.wait import wait_for
from tests.unit.api.conftest import FakeLauncher, make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_remembered_for_the_ttl_only() -> None:
    clock = Clock()
    cache: KeyCache[str] = KeyCache(5.0, clock)
    cache.put("Bearer a", "principal-a")
    clock.now += 4.9
    assert cache.get("Bearer a") == "principal-a"
    assert cache.get("Bearer b") is None
    clock.now += 0.1
    assert cache.get("Bearer a") is None


def test_ttl_zero_remembers_nothing() -> None:
    cache: KeyCache[str] = KeyCache(0.0, Clock())
    cache.put("Bearer a", "principal-a")
    assert cache.get("Bearer a") is None


def test_the_cache_is_bounded() -> None:
    cache: KeyCache[int] = KeyCache(60.0, Clock())
    for i in range(MAX_ENTRIES + 1):
        cache.put(f"Bearer {i}", i)
    assert cache.get(f"Bearer {MAX_ENTRIES}") == MAX_ENTRIES
    assert cache.get("Bearer 0") is None  # the least recently used made room
    assert cache.get("Bearer 1") == 1


def _client(home: Path, ttl: float) -> Iterator[tuple[TestClient, list[str]]]:
    settings = make_settings(home, API_KEY_CACHE_SECONDS=ttl)
    bus = MemoryEventBus()
    with TestClient(create_app(settings, FakeLauncher(settings, bus), bus=bus)) as client:
        key_lookups: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if "FROM api_keys" in statement:
                key_lookups.append(statement)

        event.listen(client.app.state.resources.engine, "before_cursor_execute", count)  # type: ignore[attr-defined]
        yield client, key_lookups


@pytest.fixture
def cached(home: Path) -> Iterator[tuple[TestClient, list[str]]]:
    yield from _client(home, ttl=1.0)


@pytest.fixture
def uncached(home: Path) -> Iterator[tuple[TestClient, list[str]]]:
    yield from _client(home, ttl=0.0)


def _revoke(db: sessionmaker[Session]) -> None:
    with session_scope(db) as session:
        apikeys.revoke_key(session, session.query(ApiKeyRecord).one().id)


def test_a_cached_key_costs_one_lookup_and_a_revoked_one_ends_after_the_ttl(
    cached: tuple[TestClient, list[str]], api_key: str, db: sessionmaker[Session]
) -> None:
    client, key_lookups = cached
    auth = {"Authorization": f"Bearer {api_key}"}
    for _ in range(5):
        assert client.get("/api/auth/me", headers=auth).status_code == 200
    assert len(key_lookups) == 1

    _revoke(db)
    revoked_at = time.monotonic()
    wait_for(
        lambda: client.get("/api/auth/me", headers=auth).status_code == 401,
        timeout=10,
        interval=0.05,
        message="the revoked key to be refused",
    )
    # Refused within the TTL (1 s) of its last lookup, plus the time the requests themselves took.
    assert time.monotonic() - revoked_at < 1.0 + 2.0
    assert client.get("/api/auth/me", headers=auth).json()["error"] == "invalid_api_key"


def test_an_unknown_key_is_never_cached(cached: tuple[TestClient, list[str]], api_key: str) -> None:
    client, key_lookups = cached
    for _ in range(3):
        assert client.get("/api/auth/me", headers={"Authorization": "Bearer st_nope"}).status_code == 401
    assert len(key_lookups) == 3


def test_without_the_cache_a_revoked_key_ends_at_once(
    uncached: tuple[TestClient, list[str]], api_key: str, db: sessionmaker[Session]
) -> None:
    client, key_lookups = uncached
    auth = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/api/auth/me", headers=auth).status_code == 200
    assert client.get("/api/auth/me", headers=auth).status_code == 200
    assert len(key_lookups) == 2
    _revoke(db)
    assert client.get("/api/auth/me", headers=auth).status_code == 401
