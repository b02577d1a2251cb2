"""Telemetry in: one subscription per device, feeding the topology and Link status.

Each Device gets a kopf daemon holding one STREAM subscription (ON_CHANGE oper-status,
SAMPLE latency and rate). It reconnects with capped exponential backoff, reading the
device's Secrets again at every attempt; devices come and go with their objects, nothing
restarts. The stream runs in this process, or, when the operator has collector processes
(`--collectors N`, see `collectors`), on the device's collector, which decodes there and
ships coalesced batches back. Either way updates change the in-memory topology at once
(so routing and alarms see them immediately) and mark the link for a status write; a
single writer flushes dirty links at most every `FLUSH_INTERVAL_S`, the latest value
winning, so a chatty device cannot flood the API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

import kopf

from intentloop_adapters import factory
from intentloop_adapters.errors import DeviceError
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_operator import collectors, kube, logs, metrics
from intentloop_operator import devices as device_handlers
from intentloop_operator.collector_process import Update, Value
from intentloop_operator.runtime import Runtime

PATHS = (
    "/interfaces/interface[name=*]/state/oper-status",
    "/interfaces/interface[name=*]/state/latency-ms",
    "/interfaces/interface[name=*]/state/out-rate-mbps",
)
FLUSH_INTERVAL_S = 0.5
BACKOFF_S = (0.5, 1, 2, 5, 10, 20)
_INTERFACE = re.compile(r"/interfaces/interface\[name=([^\]]+)\]/state/(.+)$")

log = logs.get("intentloop.telemetry")


def ingest(rt: Runtime, device: str, update: TelemetryUpdate) -> None:
    """Apply one update to the runtime: topology first, then mark what must be written."""
    ingest_value(rt, device, update.path, update.value)


def ingest_value(rt: Runtime, device: str, path: str, value: Value) -> None:
    rt.heard[device] = time.monotonic()  # a live stream: the device answers (see `devices`)
    if device in rt.stream_down:
        rt.stream_heard(device)
    m = _INTERFACE.match(path)
    if m is None:
        return
    interface, leaf = m.group(1), m.group(2)
    link = rt.topology.link_at(device, interface)
    if link is None:
        return
    name = link.name
    if leaf == "oper-status":
        rt.set_link_end(name, device, str(value).upper() == "UP")
    elif leaf == "latency-ms" and isinstance(value, int | float):
        rt.set_link_latency(name, float(value))
    elif leaf == "out-rate-mbps" and isinstance(value, int | float):
        rt.set_link_rate(name, device, float(value))
    metrics.TELEMETRY_UPDATES.inc()


def ingest_batch(rt: Runtime, updates: list[Update]) -> None:
    """A collector's batch: (device, path, value, timestamp_ns) each, latest per path."""
    now = time.time_ns()
    lag = metrics.TELEMETRY_LAG
    for device, path, value, stamp in updates:
        lag.observe(max(0.0, (now - stamp) / 1e9))
        ingest_value(rt, device, path, value)


async def _stream(
    rt: Runtime, name: str, spec: DeviceSpec, pool: collectors.CollectorPool | None
) -> None:
    creds = await device_handlers.credentials(spec)
    if pool is not None:
        document = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        await pool.stream(name, document, creds, PATHS)
        return
    adapter = factory.telemetry_adapter(name, spec, creds)
    if factory.telemetry_needs_connect(spec):
        await adapter.connect()
    try:
        async for update in adapter.subscribe(PATHS):
            if update.sync:
                log.info("telemetry.synced", device=name)
                continue
            metrics.TELEMETRY_LAG.observe(max(0.0, time.time() - update.timestamp_ns / 1e9))
            ingest(rt, name, update)
    finally:
        await adapter.close()


@kopf.daemon(GROUP, VERSION, "devices", id="device-telemetry", cancellation_timeout=5)
async def device_telemetry(
    name: str, spec: kopf.Spec, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    rt: Runtime = memo.runtime
    pool: collectors.CollectorPool | None = getattr(memo, "collectors", None)
    device = DeviceSpec.model_validate(dict(spec))
    if device.gnmi is None and device.netconf is None:
        log.info("telemetry.none", device=name, why="no gNMI or NETCONF endpoint")
        return
    attempt = 0
    while not stopped:
        started = time.monotonic()
        try:
            await _stream(rt, name, device, pool)
        except collectors.CollectorLost as e:  # the collector went, not the device
            log.info("telemetry.collector.lost", device=name, error=str(e)[:200])
        except (DeviceError, ValueError, kube.SecretUnavailable, OSError) as e:
            log.info("telemetry.stream.broken", device=name, error=str(e)[:200])
            rt.heard.pop(name, None)
            # A device whose stream breaks is treated as unreachable at once (routing and
            # alarms need not wait for the next probe); the probe confirms it, and the
            # stream, when it delivers again, or the probe restores it.
            rt.stream_lost(name)
        if time.monotonic() - started > 30:
            attempt = 0  # a long healthy stream resets the backoff
        delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
        attempt += 1
        await stopped.wait(delay)


async def flush_links(rt: Runtime) -> None:
    """Write the latest state of every dirty link (one PATCH each), then forget it."""
    dirty, rt.links_dirty = rt.links_dirty, set()
    for name in sorted(dirty):
        status = rt.link_status(name)
        if status is None:
            continue
        try:
            await kube.patch_object("links", name, {"status": status}, status=True)
        except Exception:
            rt.links_dirty.add(name)
            log.warning("link.status.write.failed", kind="Link", name=name)


async def link_status_writer(rt: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL_S)
        try:
            await flush_links(rt)
        except Exception:  # the writer must outlive any one bad round
            log.exception("link.status.flush.failed")
