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


async def take(
    cache: AllocationCache, kind: str, owner: str, owner_uid: str, *, requested: int | None = None
) -> int:
    """The value of `kind` ('vlan', 'vrf', ...) that `owner` holds, allocating it if needed."""
    async with cache.lock:
        pools = [p for p in await cache.pools() if p["spec"]["kind"] == kind]
        if not pools:
            raise NoPool(f"no ResourcePool of kind {kind} exists")
        names = {p["metadata"]["name"] for p in pools}
        for a in (await cache.current()).values():
            if a.owner == owner and a.pool in names and requested in (None, a.value):
                return a.value
        last_error: alloc.AllocationError | None = None
        for pool_obj in sorted(pools, key=lambda p: p["metadata"]["name"]):
            pool = _pool(pool_obj)
            if requested is not None and requested not in pool:
                continue
            try:
                return await _race(cache, pool, owner, owner_uid, requested)
            except alloc.AllocationError as e:
                last_error = e
        if last_error is not None:
            raise last_error
        raise alloc.ValueUnavailable(f"{kind} {requested} is in no ResourcePool of kind {kind}")


async def _race(
    cache: AllocationCache, pool: alloc.Pool, owner: str, owner_uid: str, requested: int | None
) -> int:
    for _ in range(MAX_RACES):
        existing = list((await cache.current()).values())
        choice = alloc.choose(pool, owner, existing, requested=requested)
        if choice.held:
            return choice.value
        body = {
            "apiVersion": API_VERSION,
            "kind": "Allocation",
            "metadata": {"name": choice.name, "labels": {"intentloop.io/pool": pool.name}},
            "spec": {
                "pool": pool.name,
                "value": choice.value,
                "owner": owner,
                "ownerUid": owner_uid,
            },
        }
        try:
            await kube.create_object("allocations", body)
        except kube.AlreadyExists:  # another replica took it: look again
            await cache.refresh()
            if requested is not None:
                raise alloc.ValueUnavailable(
                    f"{pool.name}: value {requested} is already held by another intent"
                ) from None
            continue
        (await cache.current())[choice.name] = alloc.Allocation(
            pool=pool.name, value=choice.value, owner=owner
        )
        return choice.value
    raise alloc.PoolExhausted(f"{pool.name}: lost {MAX_RACES} races in a row; retrying later")


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
