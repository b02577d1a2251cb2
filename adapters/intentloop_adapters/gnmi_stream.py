"""Moving telemetry from a gRPC reader thread to an async consumer with bounded memory.

A device can send faster than the controller digests (a burst after a fault, a consumer
blocked on the Kubernetes API). pygnmi's own subscribe reads into an unbounded queue, which
was measured here to grow by hundreds of MB in seconds. `LatestValueQueue` holds at most
`capacity` updates. While the consumer keeps up, it is a FIFO and every update arrives in
order (a DOWN then UP flap is two updates). When it fills, it switches to keeping only the
latest value per path, which is what a controller needs to act on the present; if even the
distinct paths exceed the capacity, the oldest are dropped. Drops are counted, not silent.

The producer wakes the event loop only when the consumer is actually waiting, so the
cross-thread cost is paid once per burst, not once per update.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from intentloop_adapters.protocol import TelemetryUpdate


@dataclass(frozen=True)
class TelemetryStats:
    """Counters of one subscription's buffer (also what metrics export)."""

    capacity: int
    queued: int
    high_water: int
    received: int
    delivered: int
    dropped: int


class StreamEnded(Exception):
    """Internal: the producer finished without an error of its own."""


class LatestValueQueue:
    """Bounded thread → asyncio hand-off that coalesces per path on overflow."""

    def __init__(
        self,
        capacity: int,
        loop: asyncio.AbstractEventLoop,
        *,
        chunk: int = 256,
        linger_s: float = 0.001,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._loop = loop
        self._chunk = chunk
        self._linger_s = linger_s
        self._lock = threading.Lock()
        self._fifo: deque[TelemetryUpdate] = deque()
        self._latest: OrderedDict[str, TelemetryUpdate] = OrderedDict()
        self._waiter: asyncio.Future[None] | None = None
        self._finished: BaseException | None = None
        self._high_water = self._received = self._delivered = self._dropped = 0

    # --- producer side (any thread) -----------------------------------------------------
    def put_many(self, updates: Iterable[TelemetryUpdate]) -> None:
        with self._lock:
            for update in updates:
                self._put(update)
            depth = len(self._fifo) + len(self._latest)
            self._high_water = max(self._high_water, depth)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    def _put(self, update: TelemetryUpdate) -> None:
        self._received += 1
        if not self._latest and len(self._fifo) < self.capacity:
            self._fifo.append(update)
            return
        if not self._latest:  # overflow: from now on keep the latest value per path
            for queued in self._fifo:
                if queued.path in self._latest:
                    self._dropped += 1
                self._latest[queued.path] = queued
            self._fifo.clear()
        if update.path in self._latest:
            self._dropped += 1
        elif len(self._latest) >= self.capacity:
            self._latest.popitem(last=False)
            self._dropped += 1
        self._latest[update.path] = update

    def finish(self, error: BaseException | None = None) -> None:
        """No more updates: the consumer drains what is queued, then sees `error` (or the end)."""
        with self._lock:
            if self._finished is None:
                self._finished = error or StreamEnded()
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    # --- consumer side (the event loop) -------------------------------------------------
    async def get_batch(self) -> list[TelemetryUpdate]:
        """Up to `chunk` queued updates, waiting for some; raises once finished and drained.

        When the queue runs dry the consumer first lingers (`linger_s`) and looks again
        before asking to be woken: under a steady stream it then polls once per linger
        instead of paying a cross-thread wake-up per notification, at the price of at most
        `linger_s` of extra delay for the first update after a pause."""
        lingered = False
        while True:
            with self._lock:
                batch = self._take()
                if batch:
                    return batch
                if self._finished is not None:
                    raise self._finished
                if lingered or self._linger_s <= 0:
                    waiter = self._waiter = self._loop.create_future()
                else:
                    waiter = None
            if waiter is None:
                lingered = True
                await asyncio.sleep(self._linger_s)
            else:
                await waiter

    def _take(self) -> list[TelemetryUpdate]:
        batch: list[TelemetryUpdate] = []
        while self._fifo and len(batch) < self._chunk:
            batch.append(self._fifo.popleft())
        while self._latest and len(batch) < self._chunk:
            batch.append(self._latest.popitem(last=False)[1])
        self._delivered += len(batch)
        return batch

    def stats(self) -> TelemetryStats:
        with self._lock:
            return TelemetryStats(
                capacity=self.capacity,
                queued=len(self._fifo) + len(self._latest),
                high_water=self._high_water,
                received=self._received,
                delivered=self._delivered,
                dropped=self._dropped,
            )


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
