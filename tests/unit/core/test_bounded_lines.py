from __future__ import annotations

import asyncio

from supertest.local.lines import bounded_lines
from supertest.truncation import truncate_line


async def _lines(data: bytes, limit: int, max_bytes: int) -> list[bytes]:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return [line async for line in bounded_lines(reader, max_bytes)]


def test_an_over_long_line_is_cut_and_the_lines_after_it_still_arrive() -> None:
    huge = b"x" * (10 * 1024 * 1024)
    lines = asyncio.run(_lines(b"first\n" + huge + b"\nlast\n" + b"tail", limit=64 * 1024, max_bytes=1000))
    assert lines[0] == b"first\n" and lines[2:] == [b"last\n", b"tail"]
    cut = lines[1]
    assert cut.startswith(b"x" * 1000) and len(cut) < 1200
    assert f"{len(huge) - 1000} bytes dropped".encode() in cut


def test_truncate_line_keeps_short_lines_and_cuts_on_a_character_boundary() -> None:
    assert truncate_line("short", 16) == "short"
    cut = truncate_line("é" * 100, 11)  # 2 bytes each: 5 fit
    assert cut.startswith("é" * 5) and not cut.startswith("é" * 6) and "190 bytes dropped" in cut
