"""Redis Streams bus: one stream per run, trimmed with MAXLEN ~ and expired after a day.

Two kinds of connections, never mixed (the settings explain the numbers, supertest/settings.py):
- the request path (publish, history, delete, a new subscriber's catch-up read) shares one bounded, blocking
  pool, and every call is bounded in total by the socket timeout, so an unreachable Redis costs a caller at
  most that long and surfaces as BusUnavailable;
- live subscriptions share ONE reader per bus: a task on its own connection runs XREAD BLOCK over every stream
  someone follows and hands the entries to each subscriber's queue. A thousand viewers cost one connection, and
  a blocked read can never starve the request path of connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisError

from supertest.bus.base import BusUnavailable, StoredEvent
from supertest.events import RunEvent, stream_key

log = structlog.get_logger("supertest.bus.redis")
T = TypeVar("T")

_FIELD = "event"
# Entries one XREAD returns per stream; a longer backlog comes on the next round.
_READ_COUNT = 500
# Events buffered per subscriber. One that falls further behind is fed again from XRANGE once it has drained its
# queue (it misses nothing: the stream holds ~EVENT_STREAM_MAXLEN entries), so a slow viewer never grows memory.
_FOLLOWER_QUEUE = 1000
# The shared reader's back-off after a failed read (Redis restarting or unreachable), doubling up to the cap.
_RECONNECT_FIRST_SECONDS = 0.1
_RECONNECT_CAP_SECONDS = 5.0
_WAKE_TTL_SECONDS = 86_400


def request_client(url: str, *, max_connections: int = 50, socket_timeout: float = 5.0) -> aioredis.Redis:
    """The request-path client of every process (API, operator, runner): a bounded pool that waits, not fails.

    One retry with a short back-off recovers a pooled connection that Redis closed (a restart, an idle timeout);
    callers bound the whole call by `socket_timeout` themselves (RedisEventBus does), so retries never stack up
    behind a frozen server.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=max_connections,
        timeout=socket_timeout,  # waiting for a free pooled connection
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=1),
        client_name="supertest",
    )
    return aioredis.Redis.from_pool(pool)


def _reader_client(url: str, *, block_ms: int, socket_timeout: float) -> aioredis.Redis:
    # The read timeout must outlast XREAD BLOCK by a margin: an idle stream then ends the BLOCK with an empty
    # reply, and only a server silent for block + socket_timeout is taken for dead. No retries here: the reader's
    # loop reconnects and resumes from its cursors itself.
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        single_connection_client=True,
        socket_timeout=block_ms / 1000 + socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(NoBackoff(), retries=0),
        client_name="supertest-reader",
    )


@dataclass(eq=False)
class _Follower:
    queue: asyncio.Queue[StoredEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=_FOLLOWER_QUEUE))
    # Set by the reader when the queue was full: it stops feeding it until the subscriber catches up by XRANGE.
    lagged: bool = False


class _SharedReader:
    """One XREAD BLOCK loop for all of a process's subscribers, on a connection of its own.

    The loop also reads a private wake stream, so a subscription to a stream not yet followed is picked up at
    once (the subscriber appends to the wake stream) instead of after the current BLOCK.
    """

    def __init__(self, client: aioredis.Redis, block_ms: int) -> None:
        self._client = client
        self._block_ms = block_ms
        self._followers: dict[str, set[_Follower]] = {}
        self._cursors: dict[str, str] = {}
        self.wake_key = f"supertest:bus:reader:{uuid.uuid4().hex}"
        self._wake_cursor = "0-0"
        self._task: asyncio.Task[None] | None = None

    @property
    def followed(self) -> int:
        return len(self._followers)

    def followers(self, key: str) -> int:
        return len(self._followers.get(key, ()))

    def follow(self, key: str, cursor: str) -> tuple[_Follower, bool]:
        """Register a subscriber; True when the stream is new to the reader, which then reads it from `cursor`."""
        new = key not in self._followers
        follower = _Follower()
        self._followers.setdefault(key, set()).add(follower)
        if new:
            self._cursors[key] = cursor
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="supertest-bus-reader")
        return follower, new

    def unfollow(self, key: str, follower: _Follower) -> None:
        followers = self._followers.get(key)
        if followers is None:
            return
        followers.discard(follower)
        if not followers:
            del self._followers[key]
            self._cursors.pop(key, None)

    async def _loop(self) -> None:
        delay = _RECONNECT_FIRST_SECONDS
        while self._followers:  # ends when nobody follows anything; the next follow() starts it again
            streams: dict[Any, Any] = {self.wake_key: self._wake_cursor, **self._cursors}
            try:
                response = cast(
                    list[tuple[str, list[tuple[str, dict[str, str]]]]] | None,
                    await self._client.xread(streams, block=self._block_ms, count=_READ_COUNT),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down, restarting or frozen: keep the cursors, back off, reconnect
                log.warning("bus_reader_failed", reason=repr(exc), retry_in=delay, streams=len(self._cursors))
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_CAP_SECONDS)
                continue
            delay = _RECONNECT_FIRST_SECONDS
            for key, entries in response or []:
                if not entries:
                    continue
                if key == self.wake_key:
                    self._wake_cursor = entries[-1][0]
                else:
                    self._deliver(key, streams[key], entries)

    def _deliver(self, key: str, read_from: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        followers = self._followers.get(key)
        # A stream dropped and followed again during the read has a new cursor: read it again from there.
        if not followers or self._cursors.get(key) != read_from:
            return
        self._cursors[key] = entries[-1][0]
        events = [e for e in (_decode_or_none(entry_id, fields) for entry_id, fields in entries) if e is not None]
        for follower in followers:
            if follower.lagged:
                continue
            for event in events:
                try:
                    follower.queue.put_nowait(event)
                except asyncio.QueueFull:
                    follower.lagged = True
                    break

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._client.aclose()


class RedisEventBus:
    def __init__(
        self,
        url: str,
        maxlen: int = 1000,
        ttl_seconds: int = 86_400,
        block_ms: int = 5_000,
        *,
        max_connections: int = 50,
        socket_timeout: float = 5.0,
    ) -> None:
        self._redis = request_client(url, max_connections=max_connections, socket_timeout=socket_timeout)
        self._reader = _SharedReader(
            _reader_client(url, block_ms=block_ms, socket_timeout=socket_timeout), block_ms=block_ms
        )
        self._maxlen = maxlen
        self._ttl = ttl_seconds
        self._budget = socket_timeout
        # After a failed publish, publishes fail fast for one budget: a relay of runner output must not wait the
        # whole budget per line on a frozen Redis (the runner would stall on a full pipe). Events are a live view.
        self._publish_down_until = 0.0

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """One request-path call, bounded in total (retries included); every failure is BusUnavailable."""
        try:
            async with asyncio.timeout(self._budget):
                return await operation()
        except (RedisError, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"Redis {what} failed: {exc!r}") from exc

    async def publish(self, event: RunEvent) -> str:
        now = asyncio.get_running_loop().time()
        if now < self._publish_down_until:
            raise BusUnavailable("Redis failed a publish moments ago; not waiting for it again yet")
        key = stream_key(event.run_id)

        async def write() -> str:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(key, {_FIELD: event.to_json()}, maxlen=self._maxlen, approximate=True)
                pipe.expire(key, self._ttl)
                event_id, _ = await pipe.execute()
            return str(event_id)

        try:
            return await self._call("XADD", write)
        except BusUnavailable:
            self._publish_down_until = asyncio.get_running_loop().time() + self._budget
            raise

    async def history(self, run_id: str, after: str | None = None) -> list[StoredEvent]:
        start = f"({after}" if after else "-"

        async def read() -> list[tuple[str, dict[str, str]]]:
            return cast(
                list[tuple[str, dict[str, str]]], await self._redis.xrange(stream_key(run_id), min=start, max="+")
            )

        entries = await self._call("XRANGE", read)
        return [e for e in (_decode_or_none(entry_id, fields) for entry_id, fields in entries) if e is not None]

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[StoredEvent]:
        """Replay what is stored after `after`, then follow live entries through the shared reader.

        A stream new to the reader is read by it from `after`. Joining a stream it already follows (its cursor may
        be past `after`), or coming back from a lag, the subscriber reads the gap itself by XRANGE after
        registering; entries the reader also hands over are dropped by id, so nothing is missed or repeated.
        """
        key = stream_key(run_id)
        cursor = after or "0-0"
        follower, new = self._reader.follow(key, cursor)
        catch_up = not new
        try:
            if new:
                await self._wake_reader()
            while True:
                if catch_up:
                    try:
                        missed = await self.history(run_id, after=cursor)
                    except BusUnavailable as exc:
                        log.warning("bus_catch_up_failed", run_id=run_id, reason=str(exc))
                        await asyncio.sleep(_RECONNECT_CAP_SECONDS)
                        continue
                    catch_up = False
                    for stored in missed:
                        if _after(stored.id, cursor):
                            cursor = stored.id
                            yield stored
                    continue
                if follower.lagged and follower.queue.empty():
                    follower.lagged = False  # the reader feeds the queue again from here; XRANGE fills the gap
                    catch_up = True
                    continue
                stored = await follower.queue.get()
                if _after(stored.id, cursor):
                    cursor = stored.id
                    yield stored
        finally:
            self._reader.unfollow(key, follower)

    def followers(self, run_id: str) -> int:
        """Live subscriptions to the run in this process (the API's SSE hub keeps it at one)."""
        return self._reader.followers(stream_key(run_id))

    async def _wake_reader(self) -> None:
        async def poke() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._reader.wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.expire(self._reader.wake_key, _WAKE_TTL_SECONDS)
                await pipe.execute()

        try:
            await self._call("XADD (wake)", poke)
        except BusUnavailable as exc:  # the reader still picks the stream up when its current BLOCK ends
            log.warning("bus_reader_wake_failed", reason=str(exc))

    async def delete(self, run_id: str) -> None:
        await self._call("DEL", lambda: self._redis.delete(stream_key(run_id)))

    async def close(self) -> None:
        await self._reader.close()
        with contextlib.suppress(BusUnavailable):
            await self._call("DEL (wake)", lambda: self._redis.delete(self._reader.wake_key))
        await self._redis.aclose()


def _after(entry_id: str, cursor: str) -> bool:
    return _id_tuple(entry_id) > _id_tuple(cursor)


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _decode_or_none(entry_id: Any, fields: dict[str, str]) -> StoredEvent | None:
    try:
        return StoredEvent(id=str(entry_id), event=RunEvent.from_json(fields[_FIELD]))
    except Exception as exc:  # a foreign or corrupt entry must not end every subscription of the stream
        log.warning("bus_entry_skipped", entry_id=str(entry_id), reason=repr(exc))
        return None
