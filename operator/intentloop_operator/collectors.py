"""Telemetry collectors as separate processes, so ingestion scales past one core.

Decoding telemetry costs far more CPU than applying it to the topology, and threads do not
help (the GIL): `CollectorPool` runs N collector processes (multiprocessing, spawn) and
splits devices across them by rendezvous hashing of the device name, so the same device
always lands on the same collector and growing the pool moves only the devices the new
collector wins. The operator process keeps what must be in one place: the Runtime,
per-device reconnect and backoff, credentials read from Secrets at every attempt.

`stream()` is one stream attempt on the device's collector, as the in-process stream is:
it returns when the device ends the stream, raises `TransientDeviceError` with the
device's error, or `CollectorLost` when the collector itself went away (the device is then
not suspect). Batches arrive on a reader thread per collector and are applied on the event
loop one at a time per collector: while the loop is busy, the pipe fills and the collector
keeps coalescing (see `collector_process`), so no queue grows in between.

A collector that exits is restarted; its devices' daemons see `CollectorLost` and start
again on the new one. Collectors end with the operator: `close()` stops them, and a
collector whose operator died notices (pipe EOF, parent sentinel) and exits.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from intentloop_adapters.errors import TransientDeviceError
from intentloop_adapters.factory import Credentials
from intentloop_operator import collector_process, logs, metrics
from intentloop_operator.collector_process import Batch, OutboxSettings, Update

DEFAULT_FACTORY = "intentloop_adapters.factory:telemetry_adapter"
STOP_TIMEOUT_S = 5.0
CRASH_LOOP_S, CRASH_DELAY_MAX_S = 5.0, 30.0

log = logs.get("intentloop.collectors")


class CollectorLost(Exception):
    """The collector process running a stream exited (or the pool is stopping)."""


def assign(device: str, collectors: int) -> int:
    """The collector of `device`: highest random weight of (collector, device) wins."""
    best, best_weight = 0, b""
    for index in range(collectors):
        weight = hashlib.blake2b(f"{index}\0{device}".encode(), digest_size=8).digest()
        if weight > best_weight:
            best, best_weight = index, weight
    return best


@dataclass
class _Attempt:
    id: int
    device: str
    future: asyncio.Future[None]

    def end(self, error: str | None) -> None:
        if not self.future.done():
            if error is None:
                self.future.set_result(None)
            else:
                self.future.set_exception(TransientDeviceError(self.device, error))

    def lose(self, why: str) -> None:
        if not self.future.done():
            self.future.set_exception(CollectorLost(why))


@dataclass
class _Worker:
    """One collector process, its two pipe ends, and the thread that feeds it commands."""

    index: int
    process: BaseProcess
    commands: Connection
    data: Connection
    started: float = field(default_factory=time.monotonic)
    attempts: dict[int, _Attempt] = field(default_factory=dict)
    outgoing: queue.SimpleQueue[tuple[Any, ...] | None] = field(default_factory=queue.SimpleQueue)

    def send(self, command: tuple[Any, ...] | None) -> None:
        self.outgoing.put(command)  # never blocks the event loop; the sender thread writes

    def send_loop(self) -> None:
        while (command := self.outgoing.get()) is not None:
            try:
                self.commands.send(command)
            except (OSError, ValueError):  # the process is gone; the reader reports it
                break
        self.commands.close()  # EOF tells the collector to exit

    def reap(self) -> None:
        """Wait for the process to end; terminate, then kill, one that does not."""
        self.process.join(STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.data.close()


class CollectorPool:
    """N collector processes; `apply(updates)` runs on the event loop for every batch."""

    def __init__(
        self,
        size: int,
        *,
        apply: Callable[[list[Update]], None],
        adapter_factory: str = DEFAULT_FACTORY,
        settings: OutboxSettings | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a collector pool needs at least one collector")
        self.size = size
        self._apply_updates = apply
        self._factory = adapter_factory
        self._settings = settings or OutboxSettings()
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker | None] = [None] * size
        self._ready = [asyncio.Event() for _ in range(size)]
        self._attempts: dict[int, _Attempt] = {}
        self._ids = itertools.count(1)
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replacing: set[asyncio.Task[None]] = set()
        self._fast_exits = [0] * size

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for index in range(self.size):
            self._spawn(index)
        log.info("collectors.started", collectors=self.size, pids=self.pids())

    def pids(self) -> list[int | None]:
        return [w.process.pid if w is not None else None for w in self._workers]

    async def stream(
        self, device: str, spec: dict[str, Any], credentials: Credentials, paths: Sequence[str]
    ) -> None:
        """One stream attempt for `device` on its collector (see the module docstring)."""
        index = assign(device, self.size)
        await self._ready[index].wait()
        worker = self._workers[index]
        if self._closing or worker is None:
            raise CollectorLost("telemetry collectors are stopping")
        assert self._loop is not None
        attempt = _Attempt(next(self._ids), device, self._loop.create_future())
        self._attempts[attempt.id] = worker.attempts[attempt.id] = attempt
        self._count(worker)
        worker.send(("start", attempt.id, device, spec, credentials, tuple(paths)))
        try:
            await attempt.future
        finally:
            self._attempts.pop(attempt.id, None)
            worker.attempts.pop(attempt.id, None)
            self._count(worker)
            if attempt.future.cancelled():
                worker.send(("stop", attempt.id))

    async def close(self) -> None:
        self._closing = True
        for task in list(self._replacing):
            task.cancel()
        workers = [w for w in self._workers if w is not None]
        for worker in workers:
            worker.send(("exit",))
            worker.send(None)
        await asyncio.gather(*(asyncio.to_thread(w.reap) for w in workers))
        for attempt in list(self._attempts.values()):
            attempt.lose("telemetry collectors stopped")
        log.info("collectors.stopped", collectors=self.size)

    # --- processes ----------------------------------------------------------------------
    def _spawn(self, index: int) -> None:
        commands_in, commands_out = self._ctx.Pipe(duplex=False)
        data_in, data_out = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=collector_process.main,
            args=(commands_in, data_out, self._factory, self._settings, index),
            name=f"intentloop-collector-{index}",
            daemon=True,  # multiprocessing also ends it if the operator exits normally
        )
        process.start()
        commands_in.close()  # only the child holds these now: its exit is our EOF
        data_out.close()
        worker = _Worker(index, process, commands_out, data_in)
        self._workers[index] = worker
        threading.Thread(
            target=worker.send_loop, name=f"collector-{index}-send", daemon=True
        ).start()
        threading.Thread(
            target=self._read_loop, args=(worker,), name=f"collector-{index}-read", daemon=True
        ).start()
        metrics.COLLECTOR_STREAMS.labels(str(index)).set(0)
        self._ready[index].set()

    def _read_loop(self, worker: _Worker) -> None:
        """Thread: one batch at a time from the pipe onto the loop, waiting until applied."""
        assert self._loop is not None
        while True:
            try:
                batch: Batch = worker.data.recv()
            except (EOFError, OSError):
                break
            applied = threading.Event()
            if not self._call(self._apply, worker, batch, applied):
                return
            while not applied.wait(0.5):
                if self._closing:
                    return
        self._call(self._lost, worker)

    def _call(self, callback: Callable[..., None], *args: Any) -> bool:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the operator is exiting
            return False
        return True

    def _apply(self, worker: _Worker, batch: Batch, applied: threading.Event) -> None:
        try:
            updates, events, _received, coalesced = batch
            if updates:
                self._apply_updates(updates)
            if coalesced:
                metrics.TELEMETRY_COALESCED.inc(coalesced)
            for attempt_id, kind, error in events:
                attempt = self._attempts.get(attempt_id)
                if attempt is None:
                    continue
                if kind == "synced":
                    log.info("telemetry.synced", device=attempt.device, collector=worker.index)
                elif kind == "ended":
                    attempt.end(error)
        except Exception:  # one bad batch must not stop the collector's stream of batches
            log.exception("collector.batch.failed", collector=worker.index)
        finally:
            applied.set()

    def _lost(self, worker: _Worker) -> None:
        if self._closing or self._workers[worker.index] is not worker:
            return
        log.warning("collector.exited", collector=worker.index, pid=worker.process.pid)
        metrics.COLLECTOR_RESTARTS.inc()
        self._workers[worker.index] = None
        self._ready[worker.index].clear()
        for attempt in worker.attempts.values():
            attempt.lose(f"collector {worker.index} exited")
        worker.attempts.clear()
        self._count(worker)
        task = asyncio.create_task(self._replace(worker), name=f"collector-{worker.index}")
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self, worker: _Worker) -> None:
        worker.send(None)
        await asyncio.to_thread(worker.reap)
        index = worker.index
        if time.monotonic() - worker.started < CRASH_LOOP_S:  # dies at once: do not spin
            self._fast_exits[index] += 1
            await asyncio.sleep(min(CRASH_DELAY_MAX_S, 2 ** (self._fast_exits[index] - 1)))
        else:
            self._fast_exits[index] = 0
        if not self._closing:
            self._spawn(index)

    def _count(self, worker: _Worker) -> None:
        metrics.COLLECTOR_STREAMS.labels(str(worker.index)).set(len(worker.attempts))


def from_environment(value: str | None) -> int:
    """`INTENTLOOP_COLLECTORS`: how many collector processes (0 or unset: in-process)."""
    if not value:
        return 0
    count = int(value)
    if count < 0:
        raise ValueError("INTENTLOOP_COLLECTORS must be 0 or more")
    return count
