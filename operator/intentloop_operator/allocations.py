"""Taking identifiers from ResourcePools through the API server, never twice.

Each allocated value is an `Allocation` object named `<pool>-<value>`; creating it is the
lock (409 Conflict = someone else holds it, try the next candidate). An owner re-running
its reconcile finds its own object and keeps its value (idempotent).
"""

from __future__ import annotations

from typing import Any

from intentloop_intents import allocation as alloc
from intentloop_intents.resources import API_VERSION
from intentloop_operator import kube

MAX_RACES = 64


class NoPool(Exception):
    """No ResourcePool of the needed kind exists."""


def _pool(obj: dict[str, Any]) -> alloc.Pool:
    spec = obj["spec"]
    return alloc.Pool(
        name=obj["metadata"]["name"],
        ranges=tuple((r["start"], r["end"]) for r in spec["ranges"]),
        excluded=frozenset(spec.get("exclude", [])),
    )


def _existing(objs: list[dict[str, Any]]) -> list[alloc.Allocation]:
    return [
        alloc.Allocation(pool=o["spec"]["pool"], value=o["spec"]["value"], owner=o["spec"]["owner"])
        for o in objs
    ]


async def take(kind: str, owner: str, owner_uid: str, *, requested: int | None = None) -> int:
    """The value of `kind` ('vlan', 'vrf', ...) that `owner` holds, allocating it if needed."""
    pools = [p for p in await kube.list_objects("resourcepools") if p["spec"]["kind"] == kind]
    if not pools:
        raise NoPool(f"no ResourcePool of kind {kind} exists")
    existing_objs = await kube.list_objects("allocations")
    existing = _existing(existing_objs)
    for obj in existing_objs:  # already held in any pool of this kind: keep it
        spec = obj["spec"]
        mine = spec["owner"] == owner and any(p["metadata"]["name"] == spec["pool"] for p in pools)
        if mine and (requested is None or requested == spec["value"]):
            return int(spec["value"])
    last_error: alloc.AllocationError | None = None
    for pool_obj in sorted(pools, key=lambda p: p["metadata"]["name"]):
        pool = _pool(pool_obj)
        if requested is not None and requested not in pool:
            continue
        try:
            return await _race(pool, owner, owner_uid, existing, requested)
        except alloc.AllocationError as e:
            last_error = e
    if last_error is not None:
        raise last_error
    raise alloc.ValueUnavailable(f"{kind} {requested} is in no ResourcePool of kind {kind}")


async def _race(
    pool: alloc.Pool,
    owner: str,
    owner_uid: str,
    existing: list[alloc.Allocation],
    requested: int | None,
) -> int:
    lost: set[int] = set()
    for _ in range(MAX_RACES):
        choice = alloc.choose(pool, owner, existing, requested=requested, also_taken=lost)
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
            return choice.value
        except kube.AlreadyExists:
            if requested is not None:
                raise alloc.ValueUnavailable(
                    f"{pool.name}: value {requested} is already held by another intent"
                ) from None
            lost.add(choice.value)
    raise alloc.PoolExhausted(f"{pool.name}: lost {MAX_RACES} races in a row; retrying later")


async def release(owner: str) -> list[str]:
    """Delete every allocation `owner` holds; returns their names."""
    released = []
    for obj in await kube.list_objects("allocations"):
        if obj["spec"]["owner"] == owner:
            await kube.delete_object("allocations", obj["metadata"]["name"])
            released.append(obj["metadata"]["name"])
    return released
