"""The process entry (`python -m supertest_operator`, `supertest operator`): the operator without the Kubernetes
client libraries.

kopf imports pykube, kubernetes and kubernetes_asyncio at import time when they are installed, only to recognise
their model objects among a handler's results, and picks a login that loads them too; kubernetes_asyncio's
generated models alone cost about 60 MiB of resident memory. We hand kopf dicts and log in with kopf's own readers
(`startup.login`), so kopf and the handler registry are imported while those libraries look absent. They are
importable again afterwards: the kube client still loads kubernetes_asyncio for a kubeconfig exec plugin.

The same goes for rich (`HIDDEN`). It also makes asyncio's TLS read buffer smaller (`small_tls_reads`).
"""

from __future__ import annotations

import importlib
import sys
from asyncio import sslproto
from types import ModuleType

CLIENT_LIBRARIES = ("pykube", "kubernetes", "kubernetes_asyncio")
# structlog imports rich when it is installed (the CLI's), for pretty tracebacks in its console renderer; the
# operator's logs are JSON or plain text, and rich was 3 MiB of its resident memory.
HIDDEN = (*CLIENT_LIBRARIES, "rich")
# A TLS record carries at most 16 KiB, so reads of 64 KiB lose nothing.
TLS_READ_BUFFER = 64 * 1024


def small_tls_reads() -> None:
    """asyncio gives every TLS connection a read buffer of SSLProtocol.max_size (256 KiB), allocated and zeroed at
    once, so all of it is resident. The operator holds about 70 connections to the apiserver in a burst (the kube
    client's pool and kopf's session), and the webhook server's from the apiserver: their buffers were 17 MiB of
    the operator's peak RSS (tracemalloc, bench/burst.py)."""
    sslproto.SSLProtocol.max_size = min(sslproto.SSLProtocol.max_size, TLS_READ_BUFFER)


def run() -> None:
    small_tls_reads()
    load().run()


def load() -> ModuleType:
    """Import the operator (`app`, and kopf's registry in `main`) while the `HIDDEN` libraries look absent."""
    hidden = [name for name in HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules: `import name` raises ImportError
    try:
        app = importlib.import_module("supertest_operator.app")
        importlib.import_module("supertest_operator.main")  # kopf's registry decides its logins now
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
    return app
