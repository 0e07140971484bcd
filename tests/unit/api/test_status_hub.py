"""The SSE hub on the in-process bus: one subscription per run whatever the viewers, shared frames, coalesced log
lines, refcounted teardown, and a slow viewer dropped (then resuming by id) without holding the others back.

Each viewer here is a client behind a socket that holds one unread chunk: the hub's next write to it waits until
the client reads, as a full socket buffer makes it wait."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from supertest_api.status import hub as hub_module
from supertest_api.status.hub import HubRegistry, Viewer, follow

from supertest.bus.base import StoredEvent
from supertest.bus.memory import MemoryEventBus
from supertest.events import log_event, status_event
from supertest.phases import Phase

RUN = "tr-hub000000001"
IDS = re.compile(rb"^id: (\S+)\r$", re.MULTILINE)


async def running() -> Phase:
    return Phase.RUNNING


def viewer(
    hubs: HubRegistry,
    after: str | None = None,
    initial: Phase = Phase.RUNNING,
    socket: asyncio.Queue[bytes] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The chunks a client reads, one at a time, until its stream is over; leaving early (aclose) disconnects it."""
    return _client(hubs, after, initial, socket or asyncio.Queue(maxsize=1))


async def _client(
    hubs: HubRegistry, after: str | None, initial: Phase, socket: asyncio.Queue[bytes]
) -> AsyncGenerator[bytes, None]:
    stream = asyncio.create_task(follow(hubs, RUN, running, after, initial, socket.put, recheck=30.0, grace=1.0))
    try:
        while True:
            read = asyncio.ensure_future(socket.get())
            await asyncio.wait({read, stream}, return_when=asyncio.FIRST_COMPLETED)
            if read.done():
                yield read.result()
                continue
            read.cancel()
            while not socket.empty():
                yield socket.get_nowait()
            stream.result()  # the stream's own failure, if any
            return
    finally:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll a plain count (nothing to await on) against a deadline."""
    async with asyncio.timeout(5.0):
        while not predicate():  # noqa: ASYNC110 - the counts have no event to wait on
            await asyncio.sleep(0.005)
    assert predicate(), what


def ids(chunk: bytes) -> list[str]:
    return [m.decode() for m in IDS.findall(chunk)]


async def test_many_viewers_share_one_subscription_and_the_same_frames() -> None:
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    viewers = [viewer(hubs) for _ in range(50)]
    firsts = [await anext(v) for v in viewers]
    assert all(b"event: status" in first for first in firsts)
    await wait_until(lambda: bus.followers(RUN) == 1, "the hub subscribed")
    assert len(hubs) == 1
    hub = hubs.get(RUN)
    assert hub is not None and hub.viewers == 50

    await bus.publish(status_event(RUN, Phase.PASSED))
    lasts = [await anext(v) for v in viewers]
    assert all(last is lasts[0] for last in lasts)  # encoded once: one bytes object for every viewer
    assert b'"phase":"Passed"' in lasts[0]
    for v in viewers:  # the terminal frame ends every stream
        with pytest.raises(StopAsyncIteration):
            await anext(v)
    assert len(hubs) == 0  # the last viewer out tears the hub down ...
    await wait_until(lambda: bus.followers(RUN) == 0, "the subscription ended")  # ... and its subscription


async def test_viewers_leaving_release_the_hub() -> None:
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    first, second = viewer(hubs), viewer(hubs)
    await anext(first)
    await anext(second)
    await first.aclose()
    assert len(hubs) == 1  # one viewer left: the hub stays
    await second.aclose()
    assert len(hubs) == 0
    await wait_until(lambda: bus.followers(RUN) == 0, "the subscription ended")
    third = viewer(hubs)  # a later viewer gets a fresh hub and the history
    assert ids(await anext(third)) == ["0-1"]
    await third.aclose()


async def test_log_lines_within_a_tick_share_one_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "TICK_SECONDS", 0.2)
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    v = viewer(hubs)
    await anext(v)
    for i in range(10):
        await bus.publish(log_event(RUN, f"line {i}"))
    frame = await anext(v)
    assert ids(frame) == [f"0-{n}" for n in range(2, 12)]  # ten events, each whole, with its own id, in one frame
    assert frame.count(b"event: log\r\n") == 10
    await bus.publish(status_event(RUN, Phase.FAILED))
    assert ids(await anext(v)) == ["0-12"]  # a status goes out at once, not after a tick
    await v.aclose()


def sole_viewer(hubs: HubRegistry) -> Viewer:
    hub = hubs.get(RUN)
    assert hub is not None
    (only,) = hub._viewers
    return only


async def stalled_viewer(bus: MemoryEventBus, hubs: HubRegistry) -> tuple[AsyncGenerator[bytes, None], Viewer]:
    """A client that read its history and then stopped: one frame ("0-2") fills its socket, and the write of the
    next ("0-3") waits for room."""
    socket: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
    v = viewer(hubs, socket=socket)
    await anext(v)
    waiting = sole_viewer(hubs)
    await bus.publish(status_event(RUN, Phase.RUNNING, "step 0"))
    await wait_until(socket.full, "the first frame written")
    await bus.publish(status_event(RUN, Phase.RUNNING, "step 1"))
    await wait_until(lambda: waiting.writing is not None, "a write waits for room")
    return v, waiting


async def test_a_viewer_behind_by_some_frames_writes_them_in_one_chunk() -> None:
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    v, waiting = await stalled_viewer(bus, hubs)
    for i in (2, 3):  # the next two wait their turn
        await bus.publish(status_event(RUN, Phase.RUNNING, f"step {i}"))
    await wait_until(lambda: len(waiting.pending) == 2, "two frames waiting")
    assert ids(await anext(v)) == ["0-2"]
    assert ids(await anext(v)) == ["0-3"]
    assert ids(await anext(v)) == ["0-4", "0-5"]  # caught up in one write, not two
    await v.aclose()


async def test_frames_arriving_while_the_history_is_written_follow_it() -> None:
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    written: list[bytes] = []
    room = asyncio.Event()

    async def write(chunk: bytes) -> None:
        if not written:
            await room.wait()  # the history's write waits for room in the socket
        written.append(chunk)

    stream = asyncio.create_task(follow(hubs, RUN, running, None, Phase.RUNNING, write, recheck=30.0, grace=1.0))
    await wait_until(lambda: (hub := hubs.get(RUN)) is not None and hub.viewers == 1, "the viewer joined")
    await bus.publish(status_event(RUN, Phase.PASSED))
    waiting = sole_viewer(hubs)
    await wait_until(lambda: len(waiting.pending) == 1, "the new frame waits")
    room.set()
    await asyncio.wait_for(stream, 5.0)
    assert [ids(chunk) for chunk in written] == [["0-1"], ["0-2"]]  # the history, then what came meanwhile


async def test_a_client_leaving_mid_write_releases_everything() -> None:
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    v, waiting = await stalled_viewer(bus, hubs)
    writing = waiting.writing
    assert writing is not None
    await v.aclose()
    assert writing.cancelled()  # the waiting write is cancelled with its stream ...
    assert len(hubs) == 0  # ... and the hub released
    await wait_until(lambda: bus.followers(RUN) == 0, "the subscription ended")


async def test_keep_alive_pings_are_one_shared_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "PING_SECONDS", 0.05)
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    first, second = viewer(hubs), viewer(hubs)
    await anext(first)
    await anext(second)
    ping_first, ping_second = await anext(first), await anext(second)
    assert ping_first == b": ping\r\n\r\n"
    assert ping_second is ping_first  # the same bytes object: encoded once for every viewer
    await first.aclose()
    await second.aclose()


async def test_a_slow_viewer_is_dropped_and_resumes_by_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "VIEWER_QUEUE_FRAMES", 4)
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    slow, fast = viewer(hubs), viewer(hubs)
    seen_slow = ids(await anext(slow))
    seen_fast = ids(await anext(fast))
    for i in range(10):  # each result is its own frame: ten frames, and the slow client reads none of them
        await bus.publish(status_event(RUN, Phase.RUNNING, f"step {i}"))
        seen_fast += ids(await anext(fast))
    assert seen_fast == [f"0-{n}" for n in range(1, 12)]  # the fast one is not held back
    # The slow one gets what was already in its socket and in the write waiting for room, then the drop.
    seen_slow += ids(await anext(slow))
    seen_slow += ids(await anext(slow))
    assert seen_slow == ["0-1", "0-2", "0-3"]
    dropped = await anext(slow)
    assert dropped.startswith(b": dropped")
    with pytest.raises(StopAsyncIteration):
        await anext(slow)
    resumed = viewer(hubs, after=seen_slow[-1])  # what EventSource does with Last-Event-ID
    assert ids(await anext(resumed)) == [f"0-{n}" for n in range(4, 12)]
    await resumed.aclose()
    await fast.aclose()


async def test_resume_point_inside_a_frame_gets_only_what_follows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "TICK_SECONDS", 0.2)
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    watching = viewer(hubs)
    await anext(watching)
    resumed = viewer(hubs, after="0-4")  # e.g. a client back from a reconnect, ahead of this process's frames
    first = asyncio.ensure_future(anext(resumed))
    hub = hubs.get(RUN)
    assert hub is not None
    await wait_until(lambda: hub.viewers == 2, "the resumed viewer joined")
    for i in range(6):
        await bus.publish(log_event(RUN, f"line {i}"))
    assert ids(await anext(watching)) == [f"0-{n}" for n in range(2, 8)]  # one frame ...
    assert ids(await first) == ["0-5", "0-6", "0-7"]  # ... of which the resumed viewer gets what follows its id
    await resumed.aclose()
    await watching.aclose()


async def test_no_history_falls_back_to_the_row_once_for_each_viewer() -> None:
    bus = MemoryEventBus()
    hubs = HubRegistry(bus)
    v = viewer(hubs, initial=Phase.QUEUED)
    first = await anext(v)
    assert ids(first) == []  # the row's phase has no bus id
    assert b'"phase":"Queued"' in first
    await bus.publish(status_event(RUN, Phase.CANCELLED))
    assert ids(await anext(v)) == ["0-1"]
    with pytest.raises(StopAsyncIteration):
        await anext(v)
    late = [chunk async for chunk in viewer(hubs, initial=Phase.CANCELLED)]  # after the end: the stored events
    assert [ids(chunk) for chunk in late] == [["0-1"]]


async def test_late_viewers_share_one_snapshot() -> None:
    bus = MemoryEventBus()
    for phase in (Phase.STARTING, Phase.RUNNING):
        await bus.publish(status_event(RUN, phase))
    hubs = HubRegistry(bus)
    a, b = viewer(hubs), viewer(hubs)
    first_a, first_b = await anext(a), await anext(b)
    assert ids(first_a) == ["0-1", "0-2"]
    assert first_a is first_b  # joined once for both
    await a.aclose()
    await b.aclose()


class BrokenBus(MemoryEventBus):
    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[StoredEvent]:
        raise RuntimeError("bus gone")
        yield  # pragma: no cover - makes this an async generator


async def test_a_failed_hub_ends_its_viewers_so_they_reconnect() -> None:
    bus = BrokenBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    chunks = [chunk async for chunk in viewer(hubs)]
    assert chunks[-1].startswith(b": dropped")  # no hang: the stream ends and EventSource resumes by id
    assert len(hubs) == 0


async def test_the_terminal_frame_reaches_every_viewer_before_any_stream_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ending a stream tears its request down; were that interleaved with the writes, the last viewers would get the
    # run's end only after every other viewer's teardown.
    monkeypatch.setattr(hub_module, "WRITE_SLICE", 2)
    bus = MemoryEventBus()
    await bus.publish(status_event(RUN, Phase.RUNNING))
    hubs = HubRegistry(bus)
    order: list[str] = []

    def writer(n: int) -> Callable[[bytes], Coroutine[Any, Any, None]]:
        async def write(chunk: bytes) -> None:
            if b'"phase":"Passed"' in chunk:
                order.append(f"write {n}")

        return write

    async def stream(n: int) -> None:
        await follow(hubs, RUN, running, None, Phase.RUNNING, writer(n), recheck=30.0, grace=1.0)
        order.append(f"end {n}")

    streams = [asyncio.create_task(stream(n)) for n in range(10)]
    await wait_until(lambda: (hub := hubs.get(RUN)) is not None and hub.viewers == 10, "every viewer joined")
    await bus.publish(status_event(RUN, Phase.PASSED))
    await asyncio.wait_for(asyncio.gather(*streams), 5.0)
    assert sorted(order[:10]) == sorted(f"write {n}" for n in range(10))
    assert sorted(order[10:]) == sorted(f"end {n}" for n in range(10))
