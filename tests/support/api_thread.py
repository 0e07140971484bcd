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
def serving(app: ASGIApp, start_timeout: float = 60.0) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL. Fails if it does not start or does not stop."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
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
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    assert not thread.is_alive(), "uvicorn did not stop"
