"""Healing: services waiting on the world are looked at again as soon as it changes.

A service whose pass failed for a reason outside its own spec (see `outcomes`) is retried
by kopf every `services.WAIT_DELAY_S`. That bounds how long it waits, but a person who
creates the missing ResourcePool or deletes the offending Link expects the service to
follow at once. Inventory changes therefore `nudge` the runtime's wait list, and this task
runs one pass over every waiting service — under the service's lock, like every other
writer of its realisation — writing its status and Event itself (it is not a kopf handler).
A service it made Ready is remembered, so kopf's pending retry of the same generation has
nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Set

from intentloop_intents import topology as topo
from intentloop_operator import kube, logs, services
from intentloop_operator.batching import Batcher
from intentloop_operator.runtime import Runtime

SETTLE_S = 0.2  # inventory changes come in bursts (kubectl apply -f dir/): one pass for all
SWEEP_S = 30.0  # and a pass now and then regardless, for services kopf does not retry

log = logs.get("intentloop.healing")


async def run(rt: Runtime, batcher: Batcher, stop: asyncio.Event) -> None:
    waits = rt.waiting
    while not stop.is_set():
        changed = asyncio.create_task(waits.changed.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait(
            {changed, stopping}, timeout=SWEEP_S, return_when=asyncio.FIRST_COMPLETED
        )
        changed.cancel()
        stopping.cancel()
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SETTLE_S)
        waits.changed.clear()  # a nudge during the pass below brings another pass
        for owner, uid in sorted(waits.services.items()):
            try:
                await heal(rt, batcher, owner, uid)
            except Exception:  # one service must not keep the others waiting
                log.exception("service.heal.failed", service=owner)


def recheck_ports(rt: Runtime, ports: Set[topo.Endpoint]) -> None:
    """A Link now uses these ports: services that were Ready with a customer port among
    them are looked at again (they become not Ready, naming the Link, until it goes)."""
    for owner, obj in rt.services.items():
        ends = obj.get("spec", {}).get("endpoints", [])
        if any(topo.Endpoint(e.get("device", ""), e.get("interface", "")) in ports for e in ends):
            rt.waiting.wait(owner, obj["metadata"].get("uid") or "")
    rt.waiting.nudge()


async def heal(rt: Runtime, batcher: Batcher, owner: str, uid: str) -> bool:
    """One pass over a waiting service; True when it became Ready."""
    namespace, name = owner.split("/", 1)
    async with rt.service_lock(owner):
        if rt.waiting.services.get(owner) != uid:
            return False  # Ready, deleted or re-created meanwhile
        obj = await kube.get_object("networkservices", name, namespace)
        meta = (obj or {}).get("metadata", {})
        if obj is None or meta.get("uid") != uid or meta.get("deletionTimestamp"):
            rt.waiting.forget(owner)  # its deletion (or its successor) is kopf's business
            return False
        done = await services.evaluate(rt, batcher, namespace, name, uid, obj)
        await kube.patch_object(
            "networkservices", name, {"status": done.status}, namespace, status=True
        )
        if done.event is not None:
            kind, reason, message = done.event
            await kube.post_event(obj, type=kind, reason=reason, message=message)
        if done.failure is not None:
            return False
        rt.waiting.healed[owner] = (uid, meta.get("generation"))
    log.info("service.healed", namespace=namespace, name=name)
    return True
