"""Fan-out of one run's events to every SSE viewer of this API process.

A thousand viewers of one run used to cost a thousand bus subscriptions, a thousand history reads, a thousand
row re-reads and a thousand JSON encodings of every event. A `RunHub` does each of those once per run per
process: one bus subscription, one history read, one idle re-read of the run row, and every event encoded to its
SSE bytes once. Viewers get shared `Frame`s, and log lines that arrive within one tick go out as one frame (the
SSE wire format is unchanged: a frame is several whole events back to back, so EventSource clients see the same
events with the same ids). The hub writes each frame into every viewer's response itself, a slice of viewers per
event-loop turn. A viewer that cannot keep up (VIEWER_QUEUE_FRAMES frames unwritten) is dropped from the live
feed; its client reconnects with Last-Event-ID and is served from the hub's buffer.

The hub is refcounted by its viewers and torn down, subscription included, when the last one leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from supertest.bus.base import BusUnavailable, EventBus, StoredEvent
from supertest.events import EventType, RunEvent, status_event
from supertest.phases import Phase

log = structlog.get_logger("supertest.api.status")

# Log lines arriving within one tick share one frame; status and result events flush at once. Every frame costs
# one write per viewer (about 15 us of CPU each, measured with bench/sse_fanout.py), so the tick grows with the
# viewers to keep the writes near FRAME_WRITES_PER_SECOND: 50 ms up to 500 viewers, 100 ms at 1,000, at most 200 ms.
TICK_SECONDS = 0.05
MAX_TICK_SECONDS = 0.2
FRAME_WRITES_PER_SECOND = 10_000
# Viewers written per event-loop turn. Each is one socket write (nearly all of its cost the kernel's): a whole
# broadcast to 1,000 viewers in one turn would hold the loop for tens of ms, and a status arriving meanwhile would
# wait for all of it and then be written to everyone again. In slices, the loop reads between them, so the status
# joins the writes still to come (one write each, both frames) and only the viewers already written get a second.
WRITE_SLICE = 64
# Frames a viewer may have waiting; past that it is dropped from the live feed (its client resumes by id).
VIEWER_QUEUE_FRAMES = 128
# Events the hub keeps encoded for viewers that join late or resume (the bus keeps about as many per run).
BUFFER_EVENTS = 1000
CLIENT_RETRY_MS = 3000

Key = tuple[int, int]
_NO_KEY: Key = (-1, -1)


def event_key(event_id: str | None) -> Key:
    """An event id ('<ms>-<seq>', both buses) as a comparable pair; None (no id) sorts before every event."""
    if not event_id:
        return _NO_KEY
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def encode(event: RunEvent, event_id: str | None) -> bytes:
    """One event in the SSE wire format: `id`, `event` (the type), `data` (the RunEvent JSON), `retry`."""
    head = f"id: {event_id}\r\n" if event_id is not None else ""
    # RunEvent JSON is one line (no raw newlines), so `data` needs no splitting.
    return f"{head}event: {event.type.value}\r\ndata: {event.to_json()}\r\nretry: {CLIENT_RETRY_MS}\r\n\r\n".encode()


def row_status(run_id: str, phase: Phase) -> bytes:
    return encode(status_event(run_id, phase, "current phase from the run history"), None)


@dataclass(frozen=True, slots=True)
class Frame:
    """Whole SSE events, encoded once and written as they are to every viewer."""

    data: bytes
    # (key, bytes) of each event, for the rare viewer whose resume point falls inside the frame.
    entries: tuple[tuple[Key, bytes], ...]
    terminal: bool = False

    @property
    def last(self) -> Key:
        return self.entries[-1][0] if self.entries else _NO_KEY

    def after(self, floor: Key) -> bytes:
        if not self.entries or self.entries[0][0] > floor:
            return self.data
        return b"".join(data for key, data in self.entries if key > floor)


_DROPPED = Frame(b": dropped from the live feed (too slow); reconnect with Last-Event-ID\r\n\r\n", (), terminal=True)
# An SSE comment every PING_SECONDS keeps idle streams open through proxies; one shared frame for all viewers.
PING_SECONDS = 15.0
_PING = Frame(b": ping\r\n\r\n", ())


# Writes one chunk of a viewer's response (the server's send of a body message).
Write = Callable[[bytes], Coroutine[Any, Any, None]]


def _no_schedule(viewer: Viewer) -> None:
    viewer.serve()


def _end_now(viewer: Viewer) -> None:
    viewer.end()


@dataclass(eq=False, slots=True)
class Viewer:
    """One viewer: its frames not yet written, and how to write them.

    The hub writes a viewer's frames itself, a slice of viewers per event-loop turn (`serve`), straight into its
    response: no task switch, future or generator per viewer per frame, which cost about as much as the socket
    write. Everything waiting goes out as one chunk, so a viewer that fell behind (its socket was full, a status
    arrived mid-broadcast) catches up in one write. A write the socket makes wait finishes in a task of its own,
    and the viewer's next frames wait for it; past VIEWER_QUEUE_FRAMES of them the viewer is dropped.
    """

    floor: Key
    schedule: Callable[[Viewer], None] = _no_schedule
    on_end: Callable[[Viewer], None] = _end_now  # its terminal frame is written: when its stream may end
    write: Write | None = None  # until its stream runs (it is writing what it missed): frames wait meanwhile
    pending: deque[Frame] = field(default_factory=deque)
    dropped: bool = False
    scheduled: bool = False
    writing: asyncio.Task[None] | None = None  # a write the socket made wait
    # Resolved when the viewer's stream is over: its terminal frame written, or its write failed.
    finished: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def offer(self, frame: Frame) -> None:
        if self.dropped or (frame.last <= self.floor and not frame.terminal and frame is not _PING):
            return
        if len(self.pending) >= VIEWER_QUEUE_FRAMES:
            self.drop()
            return
        self.pending.append(frame)
        self._ask()

    def drop(self) -> None:
        self.dropped = True
        self.pending.clear()  # what it has not sent yet, it gets back by resuming
        self.pending.append(_DROPPED)
        self._ask()

    def _ask(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            self.schedule(self)

    def serve(self) -> None:
        """Write everything waiting as one chunk, now if the socket takes it."""
        self.scheduled = False
        if self.write is None or self.writing is not None or self.finished.done() or not self.pending:
            return  # `run` or a waiting write serves the rest
        frames = list(self.pending)
        self.pending.clear()
        if frames[-1] is _DROPPED:
            log.warning("sse_viewer_dropped", queued=VIEWER_QUEUE_FRAMES)
        data = b"".join(frame.after(self.floor) for frame in frames)
        end = frames[-1].terminal  # nothing is offered after a terminal frame
        if not data:
            self._done(end)
            return
        write = self.write(data)
        try:
            blocker = write.send(None)  # run the write now: it finishes at once unless the socket is full
        except StopIteration:
            self._done(end)
        except Exception as exc:  # the server refused the write: this stream is over
            self._fail(exc)
        else:
            self.writing = asyncio.get_running_loop().create_task(self._finish(write, blocker, end))

    async def _finish(self, write: Coroutine[Any, Any, None], blocker: Any, end: bool) -> None:
        # What asyncio's Task does for a coroutine that waits (Python 3.12's eager tasks would do it for us): wait
        # for what it yielded, resume it, until it returns.
        try:
            while True:
                if blocker is None:  # a bare yield (asyncio.sleep(0))
                    await asyncio.sleep(0)
                else:  # a future: once it is done, resumed, the write gets its result or exception
                    await asyncio.wait([blocker])
                blocker = write.send(None)
        except StopIteration:
            pass
        except asyncio.CancelledError:
            write.close()
            raise
        except Exception as exc:
            self._fail(exc)
            return
        finally:
            self.writing = None
        self._done(end)
        if not self.finished.done() and self.pending:
            self.serve()

    def _done(self, end: bool) -> None:
        if end and not self.finished.done():
            self.on_end(self)

    def end(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def _fail(self, exc: Exception) -> None:
        log.warning("sse_write_failed", reason=repr(exc))
        if not self.finished.done():
            self.finished.set_result(None)

    async def run(self, write: Write) -> None:
        """Write this viewer's frames into `write` until its stream ends (its terminal frame, or a failed write)."""
        self.write = write
        self.serve()  # what came between joining and now
        try:
            await self.finished
        finally:
            if not self.finished.done():  # the client left: nothing more is written to its response
                self.finished.cancel()
            if self.writing is not None:  # it left mid-write
                self.writing.cancel()


class RunHub:
    def __init__(
        self,
        run_id: str,
        bus: EventBus,
        row_phase: Callable[[], Awaitable[Phase]],
        *,
        recheck: float,
        grace: float,
        on_idle: Callable[[RunHub], None],
    ) -> None:
        self.run_id = run_id
        self._bus = bus
        self._row_phase = row_phase
        self._recheck = recheck
        self._grace = grace
        self._on_idle = on_idle
        self._viewers: set[Viewer] = set()
        self._to_write: deque[Viewer] = deque()
        self._ending: list[Viewer] = []
        self._writing_slices = False
        self._refs = 0  # viewers plus those still joining: the hub lives while this is above zero
        self._buffer: deque[tuple[Key, bytes]] = deque(maxlen=BUFFER_EVENTS)
        self._pending: list[tuple[Key, bytes]] = []
        self._joined: tuple[Key, bytes] | None = None
        self._flush_at: asyncio.TimerHandle | None = None
        self._ready = asyncio.Event()
        self._terminal_hint = asyncio.Event()
        self._had_history = False
        self.ended: Frame | None = None  # the terminal frame, once sent
        self._end_phase: Phase | None = None
        self._last_event_at = asyncio.get_running_loop().time()
        self._tasks = [
            asyncio.create_task(self._follow(), name=f"sse-hub-{run_id}"),
            asyncio.create_task(self._watch_row(), name=f"sse-hub-row-{run_id}"),
            asyncio.create_task(self._keep_alive(), name=f"sse-hub-ping-{run_id}"),
        ]

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def tick(self) -> float:
        return min(MAX_TICK_SECONDS, max(TICK_SECONDS, len(self._viewers) / FRAME_WRITES_PER_SECOND))

    async def join(self, after: str | None, initial: Phase) -> tuple[Viewer, bytes, bool]:
        """Register a viewer; returns it, what it missed (bytes, maybe empty) and whether it is already done."""
        await self._ready.wait()
        if self.ended is _DROPPED:  # the hub failed: the client reconnects to a fresh one
            return Viewer(floor=_NO_KEY), _DROPPED.data, True
        floor = event_key(after)
        viewer = Viewer(floor=floor, schedule=self._schedule, on_end=self._end_after_broadcast)
        missed = self._snapshot() if floor == _NO_KEY else b"".join(d for key, d in self._buffer if key > floor)
        if after is None and not self._had_history and not self._buffer:
            # The bus has nothing (an API restart with the in-process bus, an expired stream): the row stands in.
            missed = row_status(self.run_id, initial)
            if initial.is_terminal:
                return viewer, missed, True
        if self.ended is not None:
            if not missed:  # it has seen the end already: tell it once more, so its EventSource stops
                missed = row_status(self.run_id, self._end_phase or initial)
            return viewer, missed, True
        if initial.is_terminal:
            self._terminal_hint.set()  # the row is terminal: do not wait a whole recheck for the end
        self._viewers.add(viewer)
        return viewer, missed, False

    def _snapshot(self) -> bytes:
        """Everything buffered, joined once per new event however many viewers arrive meanwhile."""
        last = self._buffer[-1][0] if self._buffer else _NO_KEY
        if self._joined is None or self._joined[0] != last:
            self._joined = (last, b"".join(data for _, data in self._buffer))
        return self._joined[1]

    def acquire(self) -> None:
        self._refs += 1

    def release(self, viewer: Viewer | None) -> None:
        if viewer is not None:
            self._viewers.discard(viewer)
        self._refs -= 1
        if self._refs <= 0:
            self._on_idle(self)

    async def close(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- upstream ---------------------------------------------------------------------------------------------

    async def _follow(self) -> None:
        try:
            try:
                history = await self._bus.history(self.run_id)
            except BusUnavailable:  # the row's phase stands in; the subscription catches up once the bus is back
                history = []
            self._had_history = bool(history)
            for stored in history:
                self._take(stored, flush=False)
            self._flush()
            self._ready.set()
            if self.ended is not None:
                return
            after = history[-1].id if history else None
            events = self._bus.subscribe(self.run_id, after)
            try:
                async for stored in events:
                    self._take(stored, flush=True)
                    if self.ended is not None:
                        return
            finally:  # the subscription's own cleanup (unfollow, the memory bus's count) runs now, not at GC
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
        except Exception as exc:  # viewers must not hang on a dead hub: they reconnect and get a fresh one
            log.warning("sse_hub_failed", run_id=self.run_id, reason=repr(exc))
            self.ended = _DROPPED
            self._ready.set()
            self._on_idle(self)
            for viewer in self._viewers:
                viewer.drop()

    def _take(self, stored: StoredEvent, *, flush: bool) -> None:
        if self.ended is not None:
            return
        self._last_event_at = asyncio.get_running_loop().time()
        entry = (event_key(stored.id), encode(stored.event, stored.id))
        self._buffer.append(entry)
        self._pending.append(entry)
        if stored.event.is_terminal_status:
            self._end_phase = stored.event.phase
            self._flush(terminal=True)
        elif not flush:
            return
        elif stored.event.type is not EventType.LOG:
            self._flush()
        elif self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(self.tick, self._flush)

    def _flush(self, *, terminal: bool = False) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if not self._pending:
            return
        entries, self._pending = tuple(self._pending), []
        self._broadcast(Frame(b"".join(data for _, data in entries), entries, terminal=terminal))

    def _broadcast(self, frame: Frame) -> None:
        if frame.terminal:
            self.ended = frame
        for viewer in self._viewers:
            viewer.offer(frame)

    def _schedule(self, viewer: Viewer) -> None:
        self._to_write.append(viewer)
        if not self._writing_slices:
            self._writing_slices = True
            asyncio.get_running_loop().call_soon(self._write_slice)

    def _write_slice(self) -> None:
        # The loop reads its sockets between two slices: a status arriving meanwhile joins the writes still to come.
        # The terminal frame goes to everyone in one turn: nothing can follow it, and between slices the loop would
        # tear down the streams of the clients that already have it and hang up (about 150 us each), ahead of the
        # writes still to come.
        count = len(self._to_write) if self.ended is not None else min(WRITE_SLICE, len(self._to_write))
        for _ in range(count):
            self._to_write.popleft().serve()
        if self._to_write:
            asyncio.get_running_loop().call_soon(self._write_slice)
            return
        self._writing_slices = False
        ending, self._ending = self._ending, []
        for viewer in ending:
            viewer.end()

    def _end_after_broadcast(self, viewer: Viewer) -> None:
        # A stream that ends tears its request down (middlewares, the request log, the hub's refcount): about
        # 150 us each. Interleaved with the slices, 999 teardowns would come before the last viewer's terminal
        # frame; so every viewer gets the frame first, and the streams end after.
        if self._writing_slices:
            self._ending.append(viewer)
        else:
            viewer.end()

    async def _keep_alive(self) -> None:
        await self._ready.wait()
        while self.ended is None:
            await asyncio.sleep(PING_SECONDS)
            if self.ended is None:
                self._broadcast(_PING)

    async def _watch_row(self) -> None:
        """The run row is the fallback truth: a run whose row turned terminal without a terminal event still ends."""
        loop = asyncio.get_running_loop()
        await self._ready.wait()
        phase: Phase | None = None
        while self.ended is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._terminal_hint.wait(), timeout=self._recheck)
            if self._terminal_hint.is_set():
                break
            if loop.time() - self._last_event_at < self._recheck:
                continue
            try:
                phase = await self._row_phase()
            except Exception as exc:  # the row is gone or the DB is down: the next recheck tries again
                log.warning("sse_row_recheck_failed", run_id=self.run_id, reason=repr(exc))
                continue
            if phase.is_terminal:
                break
        if self.ended is not None:
            return
        await asyncio.sleep(self._grace)  # its terminal event may still be on its way
        if self.ended is not None:
            return
        if phase is None or not phase.is_terminal:
            phase = await self._row_phase()
        self._flush()
        self._end_phase = phase
        self._broadcast(Frame(row_status(self.run_id, phase), (), terminal=True))


class HubRegistry:
    """The hubs of one API process, one per followed run."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._hubs: dict[str, RunHub] = {}

    def __len__(self) -> int:
        return len(self._hubs)

    def get(self, run_id: str) -> RunHub | None:
        return self._hubs.get(run_id)

    def hub(self, run_id: str, row_phase: Callable[[], Awaitable[Phase]], *, recheck: float, grace: float) -> RunHub:
        hub = self._hubs.get(run_id)
        if hub is None:
            hub = self._hubs[run_id] = RunHub(
                run_id, self.bus, row_phase, recheck=recheck, grace=grace, on_idle=self._idle
            )
        hub.acquire()  # in the same step as the lookup: a hub is never handed out while being torn down
        return hub

    def _idle(self, hub: RunHub) -> None:
        if self._hubs.get(hub.run_id) is hub:
            del self._hubs[hub.run_id]
        # Torn down in the background: the viewer leaving must not wait for the subscription to close.
        task = asyncio.get_running_loop().create_task(hub.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def close(self) -> None:
        hubs, self._hubs = list(self._hubs.values()), {}
        for hub in hubs:
            await hub.close()


_closing: set[asyncio.Task[None]] = set()


async def follow(
    hubs: HubRegistry,
    run_id: str,
    row_phase: Callable[[], Awaitable[Phase]],
    after: str | None,
    initial: Phase,
    write: Write,
    *,
    recheck: float,
    grace: float,
) -> None:
    """One viewer's stream, written into `write`: what it missed, then the shared frames until the end (or until
    it is dropped). Returns when the stream is over.

    The hub is acquired when the stream starts and released however it ends, so a response that never starts
    streaming holds nothing.
    """
    hub = hubs.hub(run_id, row_phase, recheck=recheck, grace=grace)
    viewer: Viewer | None = None
    try:
        joined, missed, done = await hub.join(after, initial)
        viewer = None if done else joined
        if missed:
            await write(missed)
        if viewer is not None:
            await viewer.run(write)
    finally:
        hub.release(viewer)
