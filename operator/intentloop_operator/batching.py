"""Batching: what many intents change at once reaches each device as one commit.

Reconciles of different intents run concurrently (kopf gives each object its own task);
each submits its contribution here and waits. A single worker takes everything pending,
waits `WINDOW_S` for more to arrive, and applies the lot as one network-wide transaction.
If that transaction fails, the intents are applied one by one, so one bad intent (or one
device refusing one change) never holds the others back, and each gets its own verdict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from intentloop_intents import composition
from intentloop_intents.device import DeviceConfigTree
from intentloop_operator import changes, logs
from intentloop_operator.runtime import Runtime
from intentloop_operator.sessions import SessionPool

WINDOW_S = 0.002  # requests arriving while a batch runs wait for the next one anyway
MAX_BATCH = 200

log = logs.get("intentloop.batching")


@dataclass
class _Request:
    intent: changes.IntentRef
    contributions: Mapping[str, DeviceConfigTree]
    done: asyncio.Future[changes.Applied] = field(repr=False)


class Batcher:
    def __init__(self, rt: Runtime, pool: SessionPool) -> None:
        self.rt, self.pool = rt, pool
        self._pending: list[_Request] = []
        self._wake = asyncio.Event()

    async def submit(
        self, intent: changes.IntentRef, contributions: Mapping[str, DeviceConfigTree]
    ) -> changes.Applied:
        done: asyncio.Future[changes.Applied] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(intent, contributions, done))
        self._wake.set()
        return await done

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiter = asyncio.create_task(self._wake.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            self._wake.clear()
            await asyncio.sleep(WINDOW_S)
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._apply(batch)

    async def _apply(self, batch: list[_Request]) -> None:
        latest: dict[str, _Request] = {}
        for request in batch:  # an intent submitted twice: its last contribution wins
            earlier = latest.get(request.intent.owner)
            if earlier is not None:
                request.done.add_done_callback(_mirror(earlier.done))
            latest[request.intent.owner] = request
        requests = list(latest.values())
        if len(requests) > 1:
            try:
                applied = await changes.apply_many(
                    self.rt, self.pool, [(r.intent, r.contributions) for r in requests]
                )
            except composition.ConfigConflict:
                applied = None
            if applied is not None and applied.ok:
                log.info(
                    "batch.applied", intents=len(requests), transaction=applied.transaction_name
                )
                for r in requests:
                    _resolve(r.done, applied)
                return
        for r in requests:  # one by one: each intent gets its own verdict
            try:
                _resolve(r.done, await changes.apply(self.rt, self.pool, r.intent, r.contributions))
            except Exception as e:
                if not r.done.done():
                    r.done.set_exception(e)


def _resolve(done: asyncio.Future[changes.Applied], applied: changes.Applied) -> None:
    if not done.done():
        done.set_result(applied)


def _mirror(
    target: asyncio.Future[changes.Applied],
) -> Callable[[asyncio.Future[changes.Applied]], None]:
    def copy(source: asyncio.Future[changes.Applied]) -> None:
        if target.done():
            return
        if source.exception() is not None:
            target.set_exception(source.exception())  # type: ignore[arg-type]
        else:
            target.set_result(source.result())

    return copy
