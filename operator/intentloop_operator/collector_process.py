"""Inside one collector process: telemetry streams decoded here, shipped to the operator.

Decoding gNMI (protobuf → values) is the expensive part of telemetry and Python runs it on
one core per process, so the operator hands devices to collector processes (see
`collectors`). A collector runs one stream attempt per `start` command and reports
`synced` and `ended` back; reconnecting, backoff and reading Secrets stay with the
operator's per-device daemon, so a collector holds credentials only while a stream is open
and never writes them anywhere.

Updates leave in batches through an `Outbox`: the latest value per (device, path) wins
inside a batch, a batch leaves every `linger_s` (or as soon as the previous one was taken
by the operator), and at most one batch is in the pipe at a time. When the operator reads
slowly, values keep coalescing by key; when even the distinct keys reach `max_pending`,
the streams wait, and the adapters' own bounded queues coalesce further. Memory stays
bounded whatever the devices send.

Messages (pickled tuples, both directions):
  operator → collector  ("start", attempt, device, spec, credentials, paths)
                        ("stop", attempt) | ("exit",)
  collector → operator  (updates, events, received, coalesced)
    updates  [(device, path, value, timestamp_ns), ...]
    events   [(attempt, "synced" | "ended", error text or None), ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from intentloop_adapters.errors import DeviceError
from intentloop_adapters.factory import Credentials, telemetry_needs_connect
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_operator import logs

Value = str | int | float | bool | None
Update = tuple[str, str, Value, int]
Event = tuple[int, str, str | None]
Batch = tuple[list[Update], list[Event], int, int]


class TelemetrySource(Protocol):
    """What a collector needs of an adapter (every `DeviceAdapter` is one)."""

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    def subscribe(self, paths: Sequence[str]) -> AsyncIterator[TelemetryUpdate]: ...


AdapterFactory = Callable[[str, DeviceSpec, Credentials], TelemetrySource]

_YIELD_EVERY = 512

log = logs.get("intentloop.collector")


@dataclass(frozen=True)
class OutboxSettings:
    linger_s: float = 0.015
    max_pending: int = 50_000


class Outbox:
    """Coalescing, bounded hand-off from the streams to one writer thread and the pipe.

    A batch leaves `linger_s` after its first value, as soon as the previous batch is out
    of the pipe. Busy streams flush it from `put` (every `_CHECK_EVERY` values), so their
    batches leave on time even when they keep the event loop to themselves for a while;
    `run` flushes a trickle (and events) on a timer."""

    _CHECK_EVERY = 256

    def __init__(
        self,
        conn: Connection,
        loop: asyncio.AbstractEventLoop,
        settings: OutboxSettings,
        *,
        on_broken: Callable[[], None],
    ) -> None:
        self._conn, self._loop, self._settings = conn, loop, settings
        self._on_broken = on_broken
        self._pending: dict[tuple[str, str], tuple[Value, int]] = {}
        self._events: list[Event] = []
        self._received = self._coalesced = 0
        self._since = 0.0  # when the oldest pending value arrived
        self._busy = False  # a batch is in the pipe (written by the writer thread too)
        self._kick = asyncio.Event()
        self._idle = asyncio.Event()
        self._room = asyncio.Event()
        self._handoff: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._writer = threading.Thread(target=self._write, name="collector-writer", daemon=True)
        self._writer.start()

    def put(self, device: str, path: str, value: Value, timestamp_ns: int) -> None:
        pending = self._pending
        key = (device, path)
        if key in pending:
            self._coalesced += 1
        elif not pending:
            self._since = time.monotonic()
            self._kick.set()
        pending[key] = (value, timestamp_ns)
        self._received += 1
        if (
            self._received % self._CHECK_EVERY == 0
            and not self._busy
            and time.monotonic() - self._since >= self._settings.linger_s
        ):
            self._flush()

    def event(self, attempt: int, kind: str, error: str | None = None) -> None:
        self._events.append((attempt, kind, error))
        self._kick.set()

    @property
    def full(self) -> bool:
        return len(self._pending) >= self._settings.max_pending

    async def room(self) -> None:
        """Wait until the pending values went out (call when `full`)."""
        self._room.clear()
        await self._room.wait()

    async def run(self) -> None:
        while True:
            await self._kick.wait()
            await asyncio.sleep(self._settings.linger_s)
            while self._busy:
                self._idle.clear()
                await self._idle.wait()
            self._kick.clear()
            self._flush()

    def _flush(self) -> None:
        if not self._pending and not self._events:
            return
        updates = [(d, p, v, t) for (d, p), (v, t) in self._pending.items()]
        batch: Batch = (updates, self._events, self._received, self._coalesced)
        self._pending, self._events = {}, []
        self._received = self._coalesced = 0
        self._busy = True
        self._handoff.put_nowait(batch)
        self._room.set()

    def close(self) -> None:
        """Send what is pending (best effort), then stop the writer."""
        with contextlib.suppress(queue.Full):
            if not self._busy:
                self._flush()
            self._handoff.put(None, timeout=5)  # a writer stuck on a full pipe is left behind
        self._writer.join(timeout=5)

    def _write(self) -> None:
        while (batch := self._handoff.get()) is not None:
            try:
                self._conn.send(batch)
            except (OSError, ValueError):  # the operator is gone
                self._call(self._on_broken)
                return
            self._busy = False
            self._call(self._idle.set)

    def _call(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed: we are exiting
            self._loop.call_soon_threadsafe(callback)


def load_factory(path: str) -> AdapterFactory:
    """`module:function` → the function that builds a telemetry adapter for a device."""
    module, _, name = path.partition(":")
    factory: AdapterFactory = getattr(importlib.import_module(module), name)
    return factory


class Collector:
    """The command loop of one collector process."""

    def __init__(self, commands: Connection, outbox: Outbox, factory: AdapterFactory) -> None:
        self._commands, self._outbox, self._factory = commands, outbox, factory
        self._attempts: dict[int, asyncio.Task[None]] = {}
        self.done = asyncio.get_running_loop().create_future()

    def on_readable(self) -> None:
        try:
            while self._commands.poll():
                self._handle(self._commands.recv())
        except (EOFError, OSError):  # the operator closed the pipe or died
            self.finish()

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _handle(self, command: tuple[Any, ...]) -> None:
        if command[0] == "start":
            _, attempt, device, spec, creds, paths = command
            task = asyncio.create_task(self._stream(attempt, device, spec, creds, paths))
            self._attempts[attempt] = task
            task.add_done_callback(lambda _t: self._attempts.pop(attempt, None))
        elif command[0] == "stop":
            running = self._attempts.get(command[1])
            if running is not None:
                running.cancel()
        elif command[0] == "exit":
            self.finish()

    async def _stream(
        self,
        attempt: int,
        device: str,
        spec: dict[str, Any],
        creds: Credentials,
        paths: Sequence[str],
    ) -> None:
        error: str | None = None
        outbox, count = self._outbox, 0
        try:
            model = DeviceSpec.model_validate(spec)
            adapter = self._factory(device, model, creds)
            if telemetry_needs_connect(model):
                await adapter.connect()
            try:
                async for update in adapter.subscribe(paths):
                    if update.sync:
                        outbox.event(attempt, "synced")
                        continue
                    outbox.put(device, update.path, update.value, update.timestamp_ns)
                    while outbox.full:
                        await outbox.room()
                    count += 1
                    if count % _YIELD_EVERY == 0:  # a busy device must not keep the loop
                        await asyncio.sleep(0)
            finally:
                await adapter.close()
        except Exception as e:  # every failure ends this attempt; the operator retries
            text = e.device_message if isinstance(e, DeviceError) else str(e)
            error = text[:300] or type(e).__name__
        outbox.event(attempt, "ended", error)

    async def stop_all(self) -> None:
        tasks = list(self._attempts.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _serve(
    commands: Connection, data: Connection, factory_path: str, settings: OutboxSettings, index: int
) -> None:
    loop = asyncio.get_running_loop()
    collector: Collector
    outbox = Outbox(data, loop, settings, on_broken=lambda: collector.finish())
    collector = Collector(commands, outbox, load_factory(factory_path))
    watched = [commands.fileno()]
    loop.add_reader(commands.fileno(), collector.on_readable)
    parent = multiprocessing.parent_process()
    if parent is not None:  # a parent killed without a word: its sentinel becomes readable
        loop.add_reader(parent.sentinel, collector.finish)
        watched.append(parent.sentinel)
    flusher = asyncio.create_task(outbox.run(), name="outbox")
    log.info("collector.started", collector=index)
    try:
        await collector.done
    finally:
        for fd in watched:
            loop.remove_reader(fd)
        await collector.stop_all()
        flusher.cancel()
        await asyncio.to_thread(outbox.close)
        log.info("collector.stopped", collector=index)


def main(
    commands: Connection, data: Connection, factory_path: str, settings: OutboxSettings, index: int
) -> None:
    """Entry point of a collector process (multiprocessing, spawn)."""
    logs.configure()
    asyncio.run(_serve(commands, data, factory_path, settings, index))
