"""Prometheus metrics of one app (its own CollectorRegistry, never the global one) and the request middleware.

Counting only: no metric here changes how a request is handled. Request counts and latencies are plain
numbers on the event loop (no lock per request), turned into Prometheus metrics when scraped.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Latency buckets in seconds: the data plane answers in well under a millisecond, the admin API in a few.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_UNMATCHED = "unmatched"


class RequestStats:
    """HTTP request counts by (method, route, status) and latency histograms by (method, route).

    Updated on the event loop only; a Prometheus collector (`collect`) for the app's registry.
    """

    def __init__(self, buckets: tuple[float, ...] = _BUCKETS) -> None:
        self._bounds = buckets
        self._counts: dict[tuple[str, str, int], int] = {}
        #: Per (method, route): observations per bucket (the last one is +Inf), then the sum of seconds.
        self._latency: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def count(self, method: str, route: str, status: int) -> None:
        key = (method, route, status)
        self._counts[key] = self._counts.get(key, 0) + 1

    def observe(self, method: str, route: str, seconds: float) -> None:
        found = self._latency.get((method, route))
        if found is None:
            found = self._latency[(method, route)] = ([0] * (len(self._bounds) + 1), [0.0])
        found[0][bisect.bisect_left(self._bounds, seconds)] += 1
        found[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "vexil_http_requests",
            "HTTP requests by route template and status",
            labels=["method", "route", "status"],
        )
        for (method, route, status), value in sorted(self._counts.items()):
            requests.add_metric([method, route, str(status)], value)
        yield requests
        latency = HistogramMetricFamily(
            "vexil_http_request_duration_seconds",
            "Time from request to response headers, by route template",
            labels=["method", "route"],
        )
        edges = [*(repr(float(b)) for b in self._bounds), "+Inf"]  # Prometheus' spelling of `le`
        for (method, route), (counts, total) in sorted(self._latency.items()):
            cumulative, buckets = 0, []
            for edge, observed in zip(edges, counts, strict=True):
                cumulative += observed
                buckets.append((edge, float(cumulative)))
            latency.add_metric([method, route], buckets, total[0])
        yield latency


class Metrics:
    """The server's metrics; `render()` is the `/metrics` body in the Prometheus text format."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = RequestStats()
        r.register(self.requests)
        self.stream_clients = Gauge(
            "vexil_stream_clients", "Connected SSE stream clients by key kind", ["kind"], registry=r
        )
        self.stream_messages = Counter(
            "vexil_stream_messages", "SSE messages queued to clients by message name", ["event"], registry=r
        )
        self.stream_dropped = Counter(
            "vexil_stream_dropped_clients", "Stream clients disconnected because they fell behind", registry=r
        )
        self.snapshot_version = Gauge(
            "vexil_snapshot_version",
            "Snapshot version served per environment",
            ["project", "environment"],
            registry=r,
        )
        self.snapshot_builds = Counter(
            "vexil_snapshot_builds", "Snapshot (re)serialisations after a change", registry=r
        )
        self.events_ingested = Counter(
            "vexil_events_ingested", "Ingested SDK events by kind", ["kind"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Pure ASGI middleware: counts requests and times them to the response start (streams stay open long).

    Labels use the matched route's path template, so label cardinality stays bounded.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.stats = metrics.requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        route: str | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                status = message["status"]
                route = _route(scope)
                self.stats.observe(scope["method"], route, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.stats.count(scope["method"], route or _route(scope), status)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else _UNMATCHED
