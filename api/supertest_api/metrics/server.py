"""/metrics on its own port (METRICS_PORT), so scraping needs no route to the API's public port."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from supertest_api.metrics.service import ApiMetrics


@dataclass(slots=True)
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @classmethod
    def start(cls, metrics: ApiMetrics, host: str, port: int | None) -> MetricsServer | None:
        """None when METRICS_PORT is unset (the API app serves /metrics itself)."""
        if port is None:
            return None
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
        return cls(server, thread)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
