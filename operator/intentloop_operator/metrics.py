"""Prometheus metrics and the health endpoint, served on one loopback port.

Labels are bounded (kind, adapter, operation, outcome, severity): never names or UIDs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

RECONCILE_SECONDS = Histogram(
    "intentloop_reconcile_seconds",
    "Time spent in one reconcile pass",
    ["kind", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DEVICE_RPC_SECONDS = Histogram(
    "intentloop_device_rpc_seconds",
    "Latency of device operations",
    ["adapter", "operation", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEVICES_REACHABLE = Gauge("intentloop_devices_reachable", "Devices currently reachable")
TRANSACTIONS_TOTAL = Counter(
    "intentloop_transactions_total", "Network-wide transactions by outcome", ["outcome"]
)
CONVERGENCE_SECONDS = Histogram(
    "intentloop_intent_convergence_seconds",
    "From an intent's change to Ready",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)


TELEMETRY_UPDATES = Counter(
    "intentloop_telemetry_updates_total", "Telemetry updates applied to the controller's state"
)
TELEMETRY_LAG = Histogram(
    "intentloop_telemetry_lag_seconds",
    "From the device's timestamp to processing",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
TELEMETRY_COALESCED = Counter(
    "intentloop_telemetry_coalesced_total",
    "Telemetry updates a collector process replaced by a newer value of the same path",
)
COLLECTOR_STREAMS = Gauge(
    "intentloop_collector_streams",
    "Device telemetry streams open on each collector process",
    ["collector"],
)
COLLECTOR_RESTARTS = Counter(
    "intentloop_collector_restarts_total", "Collector processes restarted after they exited"
)
ALARMS_ACTIVE = Gauge("intentloop_alarms_active", "Active alarms", ["severity"])
SLA_VIOLATIONS = Counter("intentloop_sla_violations_total", "SLA violations detected")
REMEDIATIONS = Counter("intentloop_remediations_total", "Re-paths by outcome", ["outcome"])
ALARM_TICKETS = Counter(
    "intentloop_alarm_tickets_total",
    "Tickets a NOC would open: root-cause alarms (critical, major, minor) that no "
    "maintenance window expects, newly active or raised again 5 min after clearing",
)
DRIFT_REPAIRS = Counter("intentloop_drift_repairs_total", "Drift repaired on devices")


STALE_AFTER_INTERVALS = 3


class Freshness(Collector):
    """How recently every device was checked, without a status write per check.

    Per check (`probe`: reachability, `drift`: running config compared), the time of each
    device's last successful check is kept in memory; a scrape reports the *oldest* of them
    and how many devices are stale (not checked for 3 of their intervals). Labels stay
    bounded (the check) however large the fleet; which device is stale, the Device's own
    status and conditions say.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, float]] = {}  # -> (unix time, interval)
        self._present: set[str] = set()

    def track(self, device: str) -> None:
        """The device exists (its watch event): only existing devices are counted, so a
        check that was in flight when the device was deleted cannot bring it back as a
        device stale for ever."""
        with self._lock:
            self._present.add(device)

    def known(self, check: str, device: str, interval_s: float) -> None:
        """A device is expected to be checked (a device never seen counts from now)."""
        with self._lock:
            if device in self._present:
                self._last.setdefault((check, device), (time.time(), interval_s))

    def seen(self, check: str, device: str, interval_s: float) -> None:
        with self._lock:
            if device in self._present:
                self._last[(check, device)] = (time.time(), interval_s)

    def forget(self, device: str) -> None:
        with self._lock:
            self._present.discard(device)
            for key in [k for k in self._last if k[1] == device]:
                del self._last[key]

    def collect(self) -> Iterator[Metric]:
        oldest = GaugeMetricFamily(
            "intentloop_device_check_oldest_timestamp_seconds",
            "Unix time of the least recent successful check among all devices",
            labels=["check"],
        )
        stale = GaugeMetricFamily(
            "intentloop_device_checks_stale",
            f"Devices not checked successfully for {STALE_AFTER_INTERVALS} of their intervals",
            labels=["check"],
        )
        now = time.time()
        with self._lock:
            entries = list(self._last.items())
        for check in sorted({k[0] for k, _ in entries}):
            times = [(t, i) for (c, _), (t, i) in entries if c == check]
            oldest.add_metric([check], min(t for t, _ in times))
            late = sum(1 for t, i in times if now - t > STALE_AFTER_INTERVALS * i)
            stale.add_metric([check], late)
        yield oldest
        yield stale


FRESHNESS = Freshness()
REGISTRY.register(FRESHNESS)


class _State:
    healthy = threading.Event()  # alive: the process runs its event loop
    ready = threading.Event()  # handling changes: runtime loaded, resume passes done


def mark_healthy(healthy: bool = True) -> None:
    if healthy:
        _State.healthy.set()
    else:
        _State.healthy.clear()
        _State.ready.clear()


def mark_ready(ready: bool = True) -> None:
    if ready:
        _State.ready.set()
    else:
        _State.ready.clear()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/metrics"):
            body, ctype, code = generate_latest(), CONTENT_TYPE_LATEST, 200
        elif self.path.startswith("/healthz"):
            ok = _State.healthy.is_set()
            body, ctype, code = (b"ok\n" if ok else b"starting\n"), "text/plain", 200 if ok else 503
        elif self.path.startswith("/readyz"):
            ok = _State.ready.is_set() and _State.healthy.is_set()
            body, ctype, code = (b"ok\n" if ok else b"resuming\n"), "text/plain", 200 if ok else 503
        else:
            body, ctype, code = b"not found\n", "text/plain", 404
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start /metrics, /healthz and /readyz in a daemon thread; port 0 picks a free one."""
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
