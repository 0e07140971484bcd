"""The API app served by uvicorn in a thread of the test process, on a free loopback port.

For tests that need the app's own objects (its launcher, its bus, a SQLAlchemy hook) in the same process; tests of
the `supertest dev` process use `tests.support.local_server` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.k8s.wait import wait_for


@contextmanager
def serving(app: ASGIApp, start_timeout: float = 60.0, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL. Fails if it does not start or does not stop.

    `host`: where to listen (the real node's pods reach the host on its node IP). `port` 0 picks a free one; a
    fixed port is for an origin that must be known before the app is built."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=5,
            proxy_headers=False,  # as in production: the app's own ProxyHeadersMiddleware decides (create_app)
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), timeout=start_timeout, message="uvicorn to start")
        assert server.started, "the API did not start"
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    assert not thread.is_alive(), "uvicorn did not stop"
