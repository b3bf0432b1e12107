"""How the relay reports itself: the `/readyz` answer and its Prometheus gauges, per mirrored environment.

Reads the mirror's statuses and the event counts; it changes nothing. `/readyz` is 200 while every
environment has a copy to serve (status "ready", or "degraded" when the upstream is unreachable: the
relay's whole point is to keep serving then), 503 when some environment has no copy at all or on shutdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ._relay_backend import RelayBackend

READY = "ready"
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"


def readiness(
    backend: RelayBackend, *, closing: bool, clock: Callable[[], float] = time.time
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of `/readyz`; the body lists each environment without any key."""
    mirror, now = backend.mirror, clock()
    environments: list[dict[str, Any]] = []
    for environment_id in mirror.environment_ids:
        status = mirror.status(environment_id)
        current = mirror.current(environment_id)
        project, environment = mirror.names(environment_id)
        key = backend.keys.get(environment_id)
        environments.append(
            {
                "key_prefix": key.prefix if key is not None else None,
                "project": project or None,
                "environment": environment or None,
                "connected": status.connected,
                "mode": status.mode,
                "source": status.source,
                "version": current.version if current is not None else None,
                "last_sync_age_seconds": None
                if status.last_sync is None
                else round(now - status.last_sync, 3),
                "key_rejected": status.rejected,
                "error": status.error,
            }
        )
    if closing:
        state, detail = UNAVAILABLE, "shutting down"
    elif any(item["version"] is None for item in environments):
        state, detail = UNAVAILABLE, "no copy of some environment yet (upstream unreachable, no disk cache)"
    elif all(item["connected"] for item in environments):
        state, detail = READY, "in sync with the upstream"
    else:
        state, detail = DEGRADED, "serving the last copy; the upstream is unreachable or refused a key"
    code = 503 if state == UNAVAILABLE else 200
    return code, {"status": state, "detail": detail, "environments": environments}


class RelayCollector:
    """Prometheus collector of the relay's state, read at scrape time (no stale label sets)."""

    def __init__(self, backend: RelayBackend) -> None:
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        labels = ["key_prefix", "project", "environment"]
        connected = GaugeMetricFamily(
            "vexil_relay_upstream_connected",
            "1 while the environment is in sync with the upstream",
            labels=labels,
        )
        synced = GaugeMetricFamily(
            "vexil_relay_last_sync_timestamp_seconds",
            "Unix time the environment's copy was last known current",
            labels=labels,
        )
        version = GaugeMetricFamily(
            "vexil_relay_snapshot_version", "Snapshot version of the environment's copy", labels=labels
        )
        mirror = self._backend.mirror
        for environment_id in mirror.environment_ids:
            key = self._backend.keys.get(environment_id)
            values = [key.prefix if key is not None else str(environment_id), *mirror.names(environment_id)]
            status = mirror.status(environment_id)
            connected.add_metric(values, 1.0 if status.connected else 0.0)
            if status.last_sync is not None:
                synced.add_metric(values, status.last_sync)
            current = mirror.current(environment_id)
            if current is not None:
                version.add_metric(values, float(current.version))
        yield connected
        yield synced
        yield version
        events = self._backend.events
        forwarded = CounterMetricFamily("vexil_relay_events_forwarded", "SDK events forwarded upstream")
        forwarded.add_metric([], float(events.counts.forwarded))
        yield forwarded
        dropped = CounterMetricFamily(
            "vexil_relay_events_dropped",
            "SDK events dropped: buffer full, or rejected by the upstream",
            labels=["reason"],
        )
        dropped.add_metric(["buffer_full"], float(events.counts.dropped))
        dropped.add_metric(["rejected"], float(events.counts.rejected))
        yield dropped
        buffered = GaugeMetricFamily("vexil_relay_events_buffered", "SDK events waiting to be forwarded")
        buffered.add_metric([], float(events.size))
        yield buffered
