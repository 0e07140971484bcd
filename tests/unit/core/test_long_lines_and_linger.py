"""A runner line of any length is read without failing, and the in-process bus forgets finished runs."""

from __future__ import annotations

import asyncio

from supertest.bus.memory import MemoryEventBus
from supertest.events import log_event, status_event, truncate_line
from supertest.local.lines import read_line
from supertest.phases import Phase


async def _lines(data: bytes, limit: int) -> list[tuple[bytes, int]]:
    stream = asyncio.StreamReader(limit=limit)
    stream.feed_data(data)
    stream.feed_eof()
    out = []
    while not (line := await read_line(stream, keep=limit)).eof:
        out.append((line.data, line.dropped))
    return out


async def test_a_line_past_the_read_limit_is_cut_and_the_next_lines_still_come() -> None:
    data = b"short\n" + b"x" * 5000 + b"\nafter\n" + b"y" * 3000 + b"\r\nlast without newline"
    lines = await _lines(data, limit=1024)
    assert [d[:5] for d, _ in lines] == [b"short", b"xxxxx", b"after", b"yyyyy", b"last "]
    (long_head, long_dropped), (other_head, other_dropped) = lines[1], lines[3]
    assert len(long_head) + long_dropped == 5000 + 1  # the newline is counted among the dropped bytes
    assert len(long_head) == 1024
    assert len(other_head) + other_dropped == 3000 + 2
    assert lines[0] == (b"short", 0) and lines[2] == (b"after", 0)


async def test_ten_megabytes_on_one_line_keep_memory_at_the_limit() -> None:
    lines = await _lines(b"z" * 10_000_000 + b"\nok\n", limit=1 << 20)
    assert len(lines[0][0]) == 1 << 20
    assert lines[1] == (b"ok", 0)


def test_truncate_line_marks_what_was_cut_and_never_splits_a_character() -> None:
    assert truncate_line("short", 16) == "short"
    cut = truncate_line("é" * 100, 11)
    assert cut.startswith("ééééé…") and "[line truncated: 190 more bytes]" in cut
    assert truncate_line("head", 16, dropped=10) == "head… [line truncated: 10 more bytes]"


async def test_memory_bus_drops_a_finished_runs_stream_after_the_linger() -> None:
    bus = MemoryEventBus(linger_seconds=0.05)
    await bus.publish(log_event("tr-a", "line"))
    await bus.publish(status_event("tr-a", Phase.PASSED, "done"))
    await bus.publish(log_event("tr-b", "still running"))
    assert bus.stream_count == 2
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while bus.stream_count != 1:
        assert loop.time() < deadline, "the finished run's stream was never dropped"
        await asyncio.sleep(0.01)  # poll interval against the deadline above
    assert await bus.history("tr-a") == []
    assert [e.event.line for e in await bus.history("tr-b")] == ["still running"]


async def test_memory_bus_without_linger_keeps_streams() -> None:
    bus = MemoryEventBus()
    await bus.publish(status_event("tr-a", Phase.PASSED, "done"))
    await asyncio.sleep(0)
    assert bus.stream_count == 1
