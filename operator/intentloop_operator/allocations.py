"""Taking identifiers from pools through the API server, never twice.

Each allocated value is an `Allocation` object named `<pool>-<value>`; creating it is the
lock across operator replicas (409 Conflict = someone else holds it: read that pool again,
try the next candidate). A pool is a ResourcePool, or a scope derived from pools: the VLANs
of one customer port (`port.<device>.<interface>`), the tags of one core link
(`link.<link>`) — so each port and link has the whole tag space to itself.

Nothing lists every allocation: an allocation carries its pool and its owner's UID as
labels, and the process reads one pool (by label) the first time it decides in it, then
keeps it indexed (`allocation_index.Held`); a deletion finds its owner's allocations by
label. Within one process one lock means concurrent reconciles never race each other. An
owner re-running its reconcile finds its own value and keeps it (idempotent).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from intentloop_intents import allocation as alloc
from intentloop_intents.allocation_index import Held, decide
from intentloop_intents.resources import API_VERSION
from intentloop_operator import kube

MAX_RACES = 16
POOLS_TTL_S = 2.0
POOL_LABEL = "intentloop.io/pool"
OWNER_LABEL = "intentloop.io/owner-uid"
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class NoPool(Exception):
    """No ResourcePool of the needed kind exists."""


def pool_of(obj: dict[str, Any]) -> alloc.Pool:
    spec = obj["spec"]
    return alloc.Pool(
        name=obj["metadata"]["name"],
        ranges=tuple((r["start"], r["end"]) for r in spec["ranges"]),
        excluded=frozenset(spec.get("exclude", [])),
        strategy=alloc.Strategy.SPREAD,
    )


def label_value(text: str) -> str:
    """`text` as a label value (at most 63 characters; a hash keeps long ones apart)."""
    if len(text) <= 63 and _LABEL_VALUE.match(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    head = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[:48].strip("-_.") or "x"
    return f"{head}-{digest}"


class AllocationCache:
    """What this process knows is taken, per pool (one per operator process)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.held: dict[str, Held] = {}  # pool name -> its allocations, read once
        self.reads = 0  # list calls made (benchmarks and tests count them)
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

    async def read(self, pool: str) -> Held:
        """The pool's allocations as the API server has them now."""
        self.reads += 1
        found = await kube.list_selected("allocations", f"{POOL_LABEL}={label_value(pool)}")
        self.held[pool] = Held(
            alloc.Allocation(pool=pool, value=o["spec"]["value"], owner=o["spec"]["owner"])
            for o in found
            if o["spec"]["pool"] == pool
        )
        return self.held[pool]

    async def of(self, pool: str) -> Held:
        known = self.held.get(pool)
        return known if known is not None else await self.read(pool)


async def pools_of(cache: AllocationCache, kind: str) -> list[alloc.Pool]:
    """The pools of `kind` as allocation sees them; NoPool when there is none."""
    pools = [pool_of(p) for p in await cache.pools() if p["spec"]["kind"] == kind]
    if not pools:
        raise NoPool(f"no ResourcePool of kind {kind} exists")
    return pools


async def take_in(
    cache: AllocationCache, pool: alloc.Pool, owner: str, uid: str, requested: int | None
) -> int:
    """The value `owner` holds in `pool`, taken if needed; other values it held there are
    given back (a changed request). Callers hold `cache.lock`."""
    held = await cache.of(pool.name)
    for _ in range(MAX_RACES):
        choice = decide(pool, owner, held, requested=requested)
        if choice.held or await _create(cache, pool.name, choice.value, owner, uid):
            for value in held.of(owner) - {choice.value}:
                await _delete(cache, pool.name, value)
            return choice.value
        held = await cache.read(pool.name)  # another replica took it: look again
    raise alloc.PoolExhausted(f"{pool.name}: lost {MAX_RACES} races in a row; retrying later")


async def preview_in(
    cache: AllocationCache, pool: alloc.Pool, owner: str, requested: int | None
) -> int:
    """The value `take_in` would return now, taking nothing: the same decision."""
    return decide(pool, owner, await cache.of(pool.name), requested=requested).value


async def take(
    cache: AllocationCache, kind: str, owner: str, owner_uid: str, *, requested: int | None = None
) -> int:
    """The value of `kind` ('vlan', 'vrf', ...) that `owner` holds, allocating it if needed."""
    async with cache.lock:
        pool = await pick_pool(cache, kind, owner, requested)
        return await take_in(cache, pool, owner, owner_uid, requested)


async def preview(
    cache: AllocationCache, kind: str, owner: str, *, requested: int | None = None
) -> int:
    """The value `take` would return now, taking nothing (dry runs): the same choice."""
    async with cache.lock:
        pool = await pick_pool(cache, kind, owner, requested)
        return await preview_in(cache, pool, owner, requested)


async def pick_pool(
    cache: AllocationCache, kind: str, owner: str, requested: int | None
) -> alloc.Pool:
    """Which of the pools of `kind` to take from (as `allocation.pick` orders them): the
    one the owner holds its value in, else the first by name able to give it one."""
    pools = sorted(await pools_of(cache, kind), key=lambda p: p.name)
    for pool in pools:  # the pool the owner already holds the value in
        mine = (await cache.of(pool.name)).of(owner)
        if mine and (requested is None or requested in mine):
            return pool
    last: alloc.AllocationError | None = None
    for pool in pools:
        if requested is not None and requested not in pool:
            continue
        try:
            decide(pool, owner, await cache.of(pool.name), requested=requested)
            return pool
        except alloc.AllocationError as e:
            last = e
    if isinstance(last, alloc.ValueUnavailable):
        raise alloc.ValueUnavailable(f"{_LABELS.get(kind, kind)} {last}") from None
    if last is not None:
        raise last
    names = ", ".join(p.name for p in pools)
    raise alloc.ValueUnavailable(
        f"{_LABELS.get(kind, kind)} {requested} is in none of the pools ({names})"
    )


_LABELS = {"vlan": "VLAN", "vrf": "VRF", "routeTarget": "route target", "serviceId": "service ID"}


async def _create(cache: AllocationCache, pool: str, value: int, owner: str, uid: str) -> bool:
    """Create the allocation object: True if it is ours now, False if someone else won."""
    labels = {POOL_LABEL: label_value(pool)}
    if uid:
        labels[OWNER_LABEL] = label_value(uid)
    body = {
        "apiVersion": API_VERSION,
        "kind": "Allocation",
        "metadata": {"name": alloc.allocation_name(pool, value), "labels": labels},
        "spec": {"pool": pool, "value": value, "owner": owner, "ownerUid": uid},
    }
    try:
        await kube.create_object("allocations", body)
    except kube.AlreadyExists:
        return False
    (await cache.of(pool)).add(value, owner)
    return True


async def _delete(cache: AllocationCache, pool: str, value: int) -> None:
    await kube.delete_object("allocations", alloc.allocation_name(pool, value))
    known = cache.held.get(pool)
    if known is not None:
        known.remove(value)


async def release_pools(cache: AllocationCache, owner: str, pools: set[str]) -> list[str]:
    """Give back what `owner` holds in `pools` (links a re-path left); returns the names."""
    released = []
    async with cache.lock:
        for pool in sorted(pools):
            for value in sorted((await cache.of(pool)).of(owner)):
                await _delete(cache, pool, value)
                released.append(alloc.allocation_name(pool, value))
    return released


async def release(
    cache: AllocationCache, owner: str, uid: str = "", pools: set[str] | None = None
) -> list[str]:
    """Delete every allocation `owner` holds: found by its UID label, in `pools` (what its
    status says it holds) and in the ResourcePools (allocations made before they carried
    the label); returns their names."""
    found: set[tuple[str, int]] = set()
    if uid:
        for o in await kube.list_selected("allocations", f"{OWNER_LABEL}={label_value(uid)}"):
            if o["spec"]["owner"] == owner:
                found.add((o["spec"]["pool"], o["spec"]["value"]))
    async with cache.lock:
        names = {p["metadata"]["name"] for p in await cache.pools()} | (pools or set())
        for name in sorted(names):
            found |= {(name, v) for v in (await cache.of(name)).of(owner)}
        for pool, value in sorted(found):
            await _delete(cache, pool, value)
    return sorted(alloc.allocation_name(pool, value) for pool, value in found)
