"""One rule for cutting an over-long log line, so the runner and the local relay mark it the same way."""

from __future__ import annotations

TRUNCATED_MARKER = " … [supertest: line truncated, {dropped} bytes dropped]"


def truncate_line(line: str, max_bytes: int) -> str:
    """At most `max_bytes` UTF-8 bytes of the line (cut on a character boundary), then a marker saying how much went."""
    raw = line.encode("utf-8", errors="replace")
    if len(raw) <= max_bytes:
        return line
    head = raw[:max_bytes].decode("utf-8", errors="ignore")
    return head + TRUNCATED_MARKER.format(dropped=len(raw) - len(head.encode()))
