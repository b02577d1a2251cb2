"""Keep the desired configs current when another replica writes them, cheaply.

Every batch rewrites the `DeviceConfig` of each device it touches, and a DeviceConfig holds
a device's whole desired tree, so these objects are large and change often. Our own writes
need no event (`changes` records the tree and its generation when it writes), so the
operator follows DeviceConfigs by *metadata only* — the API server sends names and
generations, never the trees — and fetches a body only when its generation is newer than the
one we hold: written by another replica (HA takeover), or by hand. A standby replica keeps
following too, so it takes over with current desired configs.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from intentloop_intents.device import DeviceConfigTree
from intentloop_operator import kube, logs
from intentloop_operator.runtime import Runtime

log = logs.get("intentloop.desired")


async def follow(rt: Runtime, stop: asyncio.Event) -> None:
    """Apply DeviceConfig changes made by others to `rt.desired` until `stop` is set."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    halt = threading.Event()

    def deliver(kind: str, metadata: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, metadata))

    thread = threading.Thread(
        target=kube.follow_metadata,
        args=("deviceconfigs", deliver, halt),
        name="follow-deviceconfigs",
        daemon=True,  # blocked in a read until the server's timeout: never waited for
    )
    thread.start()
    waiting = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            getting = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                break
            kind, metadata = getting.result()
            try:
                await apply_event(rt, kind, metadata)
            except Exception:  # one bad object must not stop following the others
                log.exception("deviceconfig.follow.failed", name=metadata.get("name"))
    finally:
        halt.set()
        waiting.cancel()


async def apply_event(rt: Runtime, kind: str, metadata: dict[str, Any]) -> None:
    device = str(metadata.get("name", ""))
    if not device:
        return
    if kind == "DELETED":
        rt.desired.pop(device, None)
        rt.desired_generation.pop(device, None)
        return
    generation = int(metadata.get("generation") or 0)
    if generation <= rt.desired_generation.get(device, 0):
        return  # our own write (or older): what we hold is at least as new
    body = await kube.get_object("deviceconfigs", device)
    if body is None:
        return
    generation = int(body["metadata"].get("generation") or 0)
    tree = DeviceConfigTree.model_validate(body.get("spec", {}).get("config", {}))
    async with rt.lock(device):  # never under a transaction on that device
        if generation > rt.desired_generation.get(device, 0):
            rt.desired[device] = tree
            rt.desired_generation[device] = generation
            log.info("deviceconfig.followed", device=device, generation=generation)
