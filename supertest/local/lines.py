"""Lines from a child's pipe, each at most a bound long: an over-long line is cut, never fatal to the reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from supertest.truncation import TRUNCATED_MARKER


async def bounded_lines(stream: asyncio.StreamReader, max_bytes: int) -> AsyncIterator[bytes]:
    """Yields each line (with its newline, if any) until EOF. StreamReader.readline raises on a line past the
    reader's limit and loses the stream; here the head is kept, the rest of that line skipped and counted."""
    while True:
        try:
            yield await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                yield exc.partial
            return
        except asyncio.LimitOverrunError as exc:
            head = await stream.read(exc.consumed)
            dropped = await _skip_rest_of_line(stream)
            kept = head[:max_bytes]
            marker = TRUNCATED_MARKER.format(dropped=len(head) - len(kept) + dropped).encode()
            yield kept + marker + b"\n"


async def _skip_rest_of_line(stream: asyncio.StreamReader) -> int:
    dropped = 0
    while True:
        try:
            dropped += len(await stream.readuntil(b"\n")) - 1
            return dropped
        except asyncio.IncompleteReadError as exc:
            return dropped + len(exc.partial)
        except asyncio.LimitOverrunError as exc:
            dropped += len(await stream.read(exc.consumed))
