"""Event bus: publish run events, and subscribe with replay from a Last-Event-ID."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supertest.bus.base import BusUnavailable, EventBus, StoredEvent, publish_or_warn
from supertest.bus.memory import MemoryEventBus
from supertest.bus.redis import RedisEventBus, request_client
from supertest.settings import CoreSettings

if TYPE_CHECKING:
    import redis.asyncio as aioredis


def create_bus(settings: CoreSettings) -> EventBus:
    if settings.redis_url:
        return RedisEventBus(
            settings.redis_url,
            maxlen=settings.event_stream_maxlen,
            ttl_seconds=settings.event_stream_ttl_seconds,
            block_ms=settings.event_read_block_ms,
            max_connections=settings.redis_max_connections,
            socket_timeout=settings.redis_socket_timeout_seconds,
        )
    return MemoryEventBus(maxlen=settings.event_stream_maxlen, linger_seconds=settings.memory_bus_linger_seconds)


def create_redis_client(settings: CoreSettings) -> aioredis.Redis:
    """A process's own request-path Redis client (the operator's retention and report reads), pooled like the bus's."""
    assert settings.redis_url, "REDIS_URL is not set"
    return request_client(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        socket_timeout=settings.redis_socket_timeout_seconds,
    )


__all__ = [
    "BusUnavailable",
    "EventBus",
    "MemoryEventBus",
    "RedisEventBus",
    "StoredEvent",
    "create_bus",
    "create_redis_client",
    "publish_or_warn",
]
