"""The operator process's memory settings (entry.py)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from asyncio import sslproto

import pytest
from supertest_operator import entry


def test_tls_connections_read_into_a_small_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sslproto.SSLProtocol, "max_size", sslproto.SSLProtocol.max_size)  # restored afterwards
    entry.small_tls_reads()
    loop = asyncio.new_event_loop()
    try:
        waiter = loop.create_future()
        protocol = sslproto.SSLProtocol(loop, asyncio.Protocol(), ssl.create_default_context(), waiter)
        # What asyncio hands the socket to read into, for any size asked (-1: as much as it likes).
        assert len(protocol.get_buffer(-1)) == entry.TLS_READ_BUFFER
        assert len(protocol.get_buffer(1 << 20)) == entry.TLS_READ_BUFFER
    finally:
        loop.close()


def test_the_operator_loads_without_the_client_libraries_and_rich() -> None:
    # A fresh interpreter: this one has them all imported already.
    probe = (
        "import sys; from supertest_operator import entry; entry.load(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'kubernetes', 'kubernetes_asyncio', 'rich'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
