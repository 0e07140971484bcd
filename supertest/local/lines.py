"""Reading the runner's stdout line by line without a line length able to kill the reader.

StreamReader.readline raises ValueError on a line longer than the reader's limit, and that ended the dispatcher's
relay: the run stayed Running for ever, its slot held, and a restart ran it again. Here an over-long line keeps its
first `keep` bytes and the rest is read and dropped (counted), so memory stays bounded by the reader's limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    data: bytes  # without the newline; empty with eof=True at the end of the stream
    dropped: int = 0  # bytes past the limit that were read and thrown away
    eof: bool = False


async def read_line(stream: asyncio.StreamReader, keep: int) -> Line:
    """The next line; one longer than the stream's limit keeps its first `keep` bytes."""
    try:
        return Line(_strip(await stream.readuntil(b"\n")))
    except asyncio.IncompleteReadError as exc:  # the last line had no newline, or the stream ended
        return Line(_strip(exc.partial), eof=not exc.partial)
    except asyncio.LimitOverrunError as exc:
        head = await stream.readexactly(min(exc.consumed, keep))
    return Line(head, dropped=await _skip_rest_of_line(stream))


async def _skip_rest_of_line(stream: asyncio.StreamReader) -> int:
    dropped = 0
    while True:
        try:
            return dropped + len(await stream.readuntil(b"\n"))
        except asyncio.IncompleteReadError as exc:
            return dropped + len(exc.partial)
        except asyncio.LimitOverrunError as exc:
            dropped += len(await stream.readexactly(exc.consumed))


def _strip(raw: bytes) -> bytes:
    return raw.rstrip(b"\r\n")
