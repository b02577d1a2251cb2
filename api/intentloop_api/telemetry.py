"""Prometheus metrics of the northbound component, served at /metrics.

Labels are bounded (API, method, status class, outcome): never user names, ids or URLs.
The component's own registry: its metrics are not the operator's (the operator's dashboard
lists those), and a process serving both would not mix them up.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry()
REQUEST_SECONDS = Histogram(
    "intentloop_api_request_seconds",
    "Time to answer one request, by TMF API (or console) and status class",
    ["api", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
ORDERS_TOTAL = Counter(
    "intentloop_api_orders_total",
    "Service orders that reached a final state",
    ["state"],
    registry=REGISTRY,
)
TICKETS_TOTAL = Counter(
    "intentloop_api_tickets_total",
    "Trouble tickets the loop opened or resolved",
    ["action"],
    registry=REGISTRY,
)
EVENTS_DELIVERED_TOTAL = Counter(
    "intentloop_api_events_delivered_total",
    "Hub events a listener accepted",
    ["api"],
    registry=REGISTRY,
)
EVENT_ATTEMPTS_FAILED_TOTAL = Counter(
    "intentloop_api_event_attempts_failed_total",
    "Hub delivery attempts that failed",
    ["api"],
    registry=REGISTRY,
)
EVENT_DELIVERY_SECONDS = Histogram(
    "intentloop_api_event_delivery_seconds",
    "From the event's making to its acceptance by the listener (retries included)",
    ["api"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120),
    registry=REGISTRY,
)
APIS = (
    "serviceOrdering",
    "serviceInventory",
    "resourceInventoryManagement",
    "alarmManagement",
    "troubleTicket",
)


def api_of(path: str) -> str:
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "tmf-api" and parts[2] in APIS:
        return parts[2]
    return "console" if path.startswith("/console") else "other"


@web.middleware
async def measure(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse = await handler(request)
    if not isinstance(response, web.StreamResponse) or request.path == "/console-api/stream":
        return response
    REQUEST_SECONDS.labels(
        api_of(request.path), request.method, f"{response.status // 100}xx"
    ).observe(time.perf_counter() - started)
    return response


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
