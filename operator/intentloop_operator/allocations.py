"""Taking identifiers from ResourcePools through the API server, never twice.

Each allocated value is an `Allocation` object named `<pool>-<value>`; creating it is the
lock across operator replicas (409 Conflict = someone else holds it: refresh, try the
next candidate). Within one process a lock per kind and a cache of taken values mean
concurrent reconciles never race each other, and no reconcile lists every allocation.
An owner re-running its reconcile finds its own value and keeps it (idempotent).
"""

from __future__ import annotations

import asyncio
from typing import Any

from intentloop_intents import allocation as alloc
from intentloop_intents.resources import API_VERSION
from intentloop_operator import kube

MAX_RACES = 16
POOLS_TTL_S = 2.0


class NoPool(Exception):
    """No ResourcePool of the needed kind exists."""


def _pool(obj: dict[str, Any]) -> alloc.Pool:
    spec = obj["spec"]
    return alloc.Pool(
        name=obj["metadata"]["name"],
        ranges=tuple((r["start"], r["end"]) for r in spec["ranges"]),
        excluded=frozenset(spec.get("exclude", [])),
        strategy=alloc.Strategy.SPREAD,
    )


class AllocationCache:
    """What this process knows is taken (one per operator process, kept in its Runtime)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.held: dict[str, alloc.Allocation] | None = None  # object name -> allocation
        self._pools: tuple[float, list[dict[str, Any]]] = (0.0, [])

    async def pools(self) -> list[dict[str, Any]]:
        """ResourcePools, re-read at most every POOLS_TTL_S (they change rarely)."""
        now = asyncio.get_running_loop().time()
        if now - self._pools[0] > POOLS_TTL_S:
            self._pools = (now, await kube.list_objects("resourcepools"))
        return self._pools[1]

    def forget_pools(self) -> None:
        """A ResourcePool changed: the next `pools()` reads them again."""
        self._pools = (0.0, [])

    async def refresh(self) -> dict[str, alloc.Allocation]:
        self.held = {
            o["metadata"]["name"]: alloc.Allocation(
                pool=o["spec"]["pool"], value=o["spec"]["value"], owner=o["spec"]["owner"]
            )
            for o in await kube.list_objects("allocations")
        }
        return self.held

    async def current(self) -> dict[str, alloc.Allocation]:
        return self.held if self.held is not None else await self.refresh()


async def pools_of(cache: AllocationCache, kind: str) -> list[alloc.Pool]:
    """The pools of `kind` as allocation sees them; NoPool when there is none."""
    pools = [_pool(p) for p in await cache.pools() if p["spec"]["kind"] == kind]
    if not pools:
        raise NoPool(f"no ResourcePool of kind {kind} exists")
    return pools


async def take(
    cache: AllocationCache, kind: str, owner: str, owner_uid: str, *, requested: int | None = None
) -> int:
    """The value of `kind` ('vlan', 'vrf', ...) that `owner` holds, allocating it if needed."""
    async with cache.lock:
        pools = await pools_of(cache, kind)
        for _ in range(MAX_RACES):
            existing = (await cache.current()).values()
            try:
                pool, choice = alloc.pick(pools, owner, existing, requested=requested)
            except alloc.ValueUnavailable as e:  # "VLAN 692 in pool ... is already in use"
                raise alloc.ValueUnavailable(f"{_LABELS.get(kind, kind)} {e}") from None
            if choice.held or await _create(cache, pool, choice, owner, owner_uid):
                return choice.value
            await cache.refresh()  # another replica took it: look again
        raise alloc.PoolExhausted(f"{kind}: lost {MAX_RACES} races in a row; retrying later")


_LABELS = {"vlan": "VLAN", "vrf": "VRF", "routeTarget": "route target"}


async def preview(
    cache: AllocationCache, kind: str, owner: str, *, requested: int | None = None
) -> int:
    """The value `take` would return now, taking nothing (dry runs): the same choice."""
    async with cache.lock:
        pools = await pools_of(cache, kind)
        existing = (await cache.current()).values()
        return alloc.pick(pools, owner, existing, requested=requested)[1].value


async def _create(
    cache: AllocationCache, pool: alloc.Pool, choice: alloc.Choice, owner: str, owner_uid: str
) -> bool:
    """Create the allocation object: True if it is ours now, False if someone else won."""
    body = {
        "apiVersion": API_VERSION,
        "kind": "Allocation",
        "metadata": {"name": choice.name, "labels": {"intentloop.io/pool": pool.name}},
        "spec": {"pool": pool.name, "value": choice.value, "owner": owner, "ownerUid": owner_uid},
    }
    try:
        await kube.create_object("allocations", body)
    except kube.AlreadyExists:
        return False
    (await cache.current())[choice.name] = alloc.Allocation(
        pool=pool.name, value=choice.value, owner=owner
    )
    return True


async def release(cache: AllocationCache, owner: str) -> list[str]:
    """Delete every allocation `owner` holds; returns their names."""
    released = []
    async with cache.lock:
        for name, a in list((await cache.refresh()).items()):
            if a.owner == owner:
                await kube.delete_object("allocations", name)
                (await cache.current()).pop(name, None)
                released.append(name)
    return released
