from __future__ import annotations

from collections.abc import AsyncIterator

from supertest.kube.client import _lines


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def collect(*parts: bytes) -> list[bytes]:
    return [line async for line in _lines(chunks(*parts))]


async def test_events_split_across_chunks_come_out_whole() -> None:
    assert await collect(b'{"a":', b'1}\n{"b"', b":2}\n") == [b'{"a":1}', b'{"b":2}']


async def test_a_line_longer_than_any_buffer_and_a_last_line_without_newline() -> None:
    long = b"x" * 300_000
    assert await collect(long[:100_000], long[100_000:] + b"\n\n", b'{"c":3}') == [long, b'{"c":3}']
