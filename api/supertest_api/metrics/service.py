"""Prometheus instruments. Each app gets its own registry so several apps can live in one process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import structlog
from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = structlog.get_logger("supertest.api.metrics")

CountsReader = Callable[[], tuple[int, int]]


class _RunGauges(Collector):
    """Queued/running counts read at scrape time, so every API replica reports the same truth."""

    def __init__(self) -> None:
        self.reader: CountsReader | None = None

    def collect(self) -> Iterator[Metric]:
        if self.reader is None:
            return
        try:
            queued, running = self.reader()
        except Exception as exc:  # a scrape must not fail because the DB blipped
            log.warning("metrics: could not count runs", error=str(exc))
            return
        yield GaugeMetricFamily("supertest_runs_queued", "Runs waiting for a running slot", value=queued)
        yield GaugeMetricFamily("supertest_runs_running", "Runs holding a running slot", value=running)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "supertest_http_requests",
            "HTTP requests by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "supertest_http_request_duration_seconds",
            "HTTP request latency by route template (SSE streams excluded)",
            ["method", "route"],
            registry=self.registry,
        )
        self.runs_submitted = Counter(
            "supertest_runs_submitted", "Runs accepted by the API", ["kind"], registry=self.registry
        )
        self.rejections = Counter(
            "supertest_run_rejections", "Requests rejected before a run was stored", ["reason"], registry=self.registry
        )
        self._gauges = _RunGauges()
        self.registry.register(self._gauges)

    def read_counts_with(self, reader: CountsReader | None) -> None:
        self._gauges.reader = reader

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
