"""Event bus: publish run events, and subscribe with replay from a Last-Event-ID."""

from __future__ import annotations

from supertest.bus.base import EventBus, StoredEvent
from supertest.bus.memory import MemoryEventBus
from supertest.bus.redis import RedisEventBus
from supertest.settings import CoreSettings


def create_bus(settings: CoreSettings) -> EventBus:
    if settings.redis_url:
        return RedisEventBus(
            settings.redis_url,
            maxlen=settings.event_stream_maxlen,
            ttl_seconds=settings.event_stream_ttl_seconds,
        )
    return MemoryEventBus(maxlen=settings.event_stream_maxlen)


__all__ = ["EventBus", "MemoryEventBus", "RedisEventBus", "StoredEvent", "create_bus"]
