"""Delivery of events to one hub registration: at least once, in order, with retries.

One queue per registration, one event in flight: an event is retried (exponential backoff,
capped) until the listener answers 2xx, and nothing after it is sent before — so events
about one resource arrive in the order they happened, even across a listener that was down
for minutes. Progress is kept in the EventSubscription's status (`deliveredRevision`), so
a restarted component resends what changed after it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from intentloop_api import events, telemetry
from intentloop_api.kubeclient import MERGE_PATCH, Kube, KubeError, path
from intentloop_operator import logs

log = logs.get(__name__)
MAX_BACKOFF_S = 5.0
SAVE_EVERY_S = 1.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Event:
    event_type: str
    body: dict[str, Any]
    revision: int
    api: str = ""
    made: float = 0.0


def make(notified: events.Notified, event_type: str, view: dict[str, Any], rv: int) -> Event:
    body = {
        "eventId": uuid.uuid4().hex,
        "eventTime": _now(),
        "eventType": event_type,
        "event": {notified.resource: view},
    }
    return Event(event_type, body, rv, notified.api, time.monotonic())


class Delivery:
    """The worker for one registration. `horizon()` is the revision below which every
    change has reached this worker (from the informers), used to save progress."""

    def __init__(
        self,
        kube: Kube,
        sub: dict[str, Any],
        http: aiohttp.ClientSession,
        horizon: Callable[[], int],
    ) -> None:
        self.kube, self.http, self.horizon = kube, http, horizon
        meta = sub["metadata"]
        self.namespace, self.name = meta["namespace"], meta["name"]
        self.callback = str(sub["spec"]["callback"]).rstrip("/")
        status = sub.get("status") or {}
        self.delivered_revision = int(status.get("deliveredRevision") or 0)
        self.delivered = int(status.get("delivered") or 0)
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._saved_at = 0.0
        self._dirty = False
        self.failures = 0
        self.last_error = ""

    def put(self, event: Event) -> None:
        self.queue.put_nowait(event)

    async def _post(self, event: Event) -> None:
        url = self.callback + events.listener_path(event.event_type)
        async with self.http.post(
            url, json=event.body, timeout=aiohttp.ClientTimeout(total=10)
        ) as r:
            if not 200 <= r.status <= 299:
                raise aiohttp.ClientResponseError(
                    r.request_info, (), status=r.status, message=f"listener answered {r.status}"
                )

    async def _deliver(self, event: Event) -> None:
        backoff = 0.1
        while True:
            try:
                await self._post(event)
                self.failures, self.delivered = 0, self.delivered + 1
                telemetry.EVENTS_DELIVERED_TOTAL.labels(event.api).inc()
                telemetry.EVENT_DELIVERY_SECONDS.labels(event.api).observe(
                    time.monotonic() - event.made
                )
                return
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                self.failures += 1
                telemetry.EVENT_ATTEMPTS_FAILED_TOTAL.labels(event.api).inc()
                self.last_error = f"{type(e).__name__}: {e}"[:1024]
                if self.failures in (1, 10) or self.failures % 100 == 0:
                    await self._save(force=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def run(self) -> None:
        while True:
            try:
                event = await asyncio.wait_for(self.queue.get(), timeout=SAVE_EVERY_S)
            except TimeoutError:
                await self._save()
                continue
            await self._deliver(event)
            self._dirty = True
            if self.queue.empty():
                await self._save()

    async def _save(self, *, force: bool = False) -> None:
        if self.queue.empty() and self.failures == 0:
            horizon = self.horizon()
            if horizon > self.delivered_revision:
                self.delivered_revision, self._dirty = horizon, True
        if not (self._dirty or force) or (
            not force and time.monotonic() - self._saved_at < SAVE_EVERY_S
        ):
            return
        status = {
            "deliveredRevision": self.delivered_revision,
            "delivered": self.delivered,
            "failures": self.failures,
            "lastError": self.last_error,
        }
        if self.failures == 0:
            status["lastDeliveredTime"] = _now()[:19] + "Z"
        target = path("eventsubscriptions", namespace=self.namespace, name=self.name, sub="status")
        try:
            await self.kube.request(
                "PATCH", target, body={"status": status}, content_type=MERGE_PATCH
            )
            self._saved_at, self._dirty = time.monotonic(), False
        except (KubeError, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning(
                "hub.progress.save.failed", namespace=self.namespace, name=self.name, error=str(e)
            )
