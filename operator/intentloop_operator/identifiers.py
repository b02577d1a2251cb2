"""Which identifiers a service holds, each with the scope it has in the world.

- At each endpoint the customer's VLAN: the endpoint's `vlan`, else the service's `vlan`
  (kept for services written before endpoints had one; it must lie in a VLAN pool), else a
  free tag from the VLAN pools' ranges. It is unique per port (pool `port.<device>.<port>`),
  not network-wide, so every port has all 4,094 tags.
- On each core link of the route its own tag (pool `link.<link>`, from the `linkTag`
  ResourcePools' ranges, or the VLAN pools' when there is none): routers translate.
- One network-wide service ID (a `serviceId` ResourcePool, else the implicit
  `service-ids`, 1..2^32-1): route targets and VRF numbers are derived from it, so a
  network carries as many services as that space, far beyond 4,094.

`take` allocates (race-free: see `allocations`), `preview` answers the same question
taking nothing, so a plan shows exactly what provisioning would take.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from intentloop_intents import allocation as alloc
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import allocations
from intentloop_operator.allocations import AllocationCache

SERVICE_IDS = alloc.Pool(
    name="service-ids", ranges=((1, 4_294_967_295),), strategy=alloc.Strategy.SPREAD
)
CUSTOMER_TAGS = ((1, 4094),)
RT_ASN = 65000  # the ASN of route targets (a 2-byte ASN leaves 4 bytes for the service ID)


class LinkFull(alloc.PoolExhausted):
    """A link of the route has no free tag left: route around it."""

    def __init__(self, link: str, message: str) -> None:
        super().__init__(message)
        self.link = link


@dataclass(frozen=True)
class Need:
    """One value to hold: from `pool`, the `requested` one or any; `what` names it."""

    pool: alloc.Pool
    requested: int | None
    what: str  # the field or place, for messages ("spec.endpoints[0].vlan at r1 eth1")
    kind: str  # "endpoint", "link" or "service"
    key: str  # endpoint index, link name, or ""


@dataclass(frozen=True)
class Identifiers:
    endpoint_vlans: tuple[int, ...]
    link_tags: dict[str, int] = field(default_factory=dict)
    service_id: int = 0

    def status(self, spec: NetworkServiceSpec) -> dict[str, Any]:
        ends = [
            {"device": e.device, "interface": e.interface, "vlan": v}
            for e, v in zip(spec.endpoints, self.endpoint_vlans, strict=True)
        ]
        out: dict[str, Any] = {
            "endpoints": ends,
            "linkTags": dict(sorted(self.link_tags.items())),
            "serviceId": self.service_id,
        }
        if spec.type == "l3vpn":  # the VPN's route target derives from the service ID
            out["routeTarget"] = alloc.route_target(RT_ASN, self.service_id)
        return out


def port_pool(device: str, interface: str) -> str:
    """The pool of a customer port's VLANs (a name the API server accepts)."""
    clean = re.sub(r"[^a-z0-9]+", "-", interface.lower()).strip("-") or "x"
    if clean != interface or len(device) + len(clean) > 200:
        clean = f"{clean[:40]}-{_digest(interface)}"
    return f"port.{device[:150]}.{clean}"


def link_pool(link: str) -> str:
    return f"link.{link}" if len(link) <= 200 else f"link.{link[:180]}.{_digest(link)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def merged(name: str, pools: list[alloc.Pool]) -> alloc.Pool:
    """One pool named `name` with the values of `pools` (excluded only where no pool has it)."""
    excluded = {v for p in pools for v in p.excluded if not any(v in q for q in pools)}
    return alloc.Pool(
        name=name,
        ranges=tuple(r for p in pools for r in p.ranges),
        excluded=frozenset(excluded),
        strategy=alloc.Strategy.SPREAD,
    )


async def needs(cache: AllocationCache, spec: NetworkServiceSpec, links: list[str]) -> list[Need]:
    """What the service must hold for its endpoints, the `links` it uses, and itself."""
    vlan_pools = await allocations.pools_of(cache, "vlan")  # NoPool: nothing to take from
    if spec.vlan is not None:
        _in_some_pool(vlan_pools, spec.vlan)
    out = []
    for i, e in enumerate(spec.endpoints):
        asked = e.vlan if e.vlan is not None else spec.vlan
        what = f"spec.endpoints[{i}].vlan" if e.vlan is not None else "spec.vlan"
        name = port_pool(e.device, e.interface)
        pool = (
            alloc.Pool(name=name, ranges=CUSTOMER_TAGS)
            if asked is not None
            else merged(name, vlan_pools)
        )
        out.append(Need(pool, asked, f"{what} at {e.device} {e.interface}", "endpoint", str(i)))
    tag_pools = [allocations.pool_of(p) for p in await cache.pools() if _kind(p) == "linkTag"]
    for link in links:
        pool = merged(link_pool(link), tag_pools or vlan_pools)
        out.append(Need(pool, None, f"link {link}", "link", link))
    return out


def _kind(p: dict[str, Any]) -> str:
    return str(p["spec"]["kind"])


def _in_some_pool(pools: list[alloc.Pool], vlan: int) -> None:
    if not any(vlan in p for p in pools):
        names = ", ".join(sorted(p.name for p in pools))
        raise alloc.ValueUnavailable(f"VLAN {vlan} is in none of the pools ({names})")


async def _service_pool(cache: AllocationCache, owner: str) -> alloc.Pool:
    try:
        return await allocations.pick_pool(cache, "serviceId", owner, None)
    except allocations.NoPool:
        return SERVICE_IDS


async def take(
    cache: AllocationCache, owner: str, uid: str, spec: NetworkServiceSpec, links: list[str]
) -> Identifiers:
    """Hold every identifier the service needs (allocating what it does not hold yet)."""
    async with cache.lock:
        todo = await needs(cache, spec, links)
        got = [
            await _one(allocations.take_in(cache, n.pool, owner, uid, n.requested), n) for n in todo
        ]
        service_id = await allocations.take_in(
            cache, await _service_pool(cache, owner), owner, uid, None
        )
    return _identifiers(todo, got, service_id)


async def preview(
    cache: AllocationCache, owner: str, spec: NetworkServiceSpec, links: list[str]
) -> Identifiers:
    """What `take` would hold now, taking nothing."""
    async with cache.lock:
        todo = await needs(cache, spec, links)
        got = [
            await _one(allocations.preview_in(cache, n.pool, owner, n.requested), n) for n in todo
        ]
        pool = await _service_pool(cache, owner)
        service_id = await allocations.preview_in(cache, pool, owner, None)
    return _identifiers(todo, got, service_id)


async def _one(decision: Any, need: Need) -> int:
    """Await `decision`, saying in the service's own terms why a value cannot be had."""
    try:
        value: int = await decision
    except alloc.ValueUnavailable:  # who holds it is not said: maybe another tenant
        raise alloc.ValueUnavailable(
            f"{need.what}: VLAN {need.requested} is already in use on that port; "
            "choose another or leave it unset to get a free one"
        ) from None
    except alloc.PoolExhausted:
        if need.kind == "link":
            raise LinkFull(need.key, f"{need.what}: no free tag is left") from None
        raise alloc.PoolExhausted(f"{need.what}: no free tag is left") from None
    return value


def _identifiers(todo: list[Need], got: list[int], service_id: int) -> Identifiers:
    ends = tuple(v for n, v in zip(todo, got, strict=True) if n.kind == "endpoint")
    tags = {n.key: v for n, v in zip(todo, got, strict=True) if n.kind == "link"}
    return Identifiers(ends, tags, service_id)


def pools_held(allocated: Mapping[str, Any] | None) -> set[str]:
    """The port and link pools a status's `allocated` says the service holds values in."""
    if not allocated:
        return set()
    ports = {port_pool(e["device"], e["interface"]) for e in allocated.get("endpoints") or []}
    return ports | {link_pool(link) for link in allocated.get("linkTags") or {}}


async def release_left(
    cache: AllocationCache,
    owner: str,
    spec: NetworkServiceSpec,
    links: list[str],
    before: Mapping[str, Any] | None,
    tried: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Give back the values held on ports and links the service no longer uses (a re-path,
    a moved endpoint, links `tried` on a route given up in this pass), and a network-wide
    VLAN held before identifiers had scopes."""
    now = {port_pool(e.device, e.interface) for e in spec.endpoints}
    now |= {link_pool(link) for link in links}
    stale = (pools_held(before) | {link_pool(link) for link in tried}) - now
    if before and before.get("vlan") is not None:
        stale |= {p.name for p in await allocations.pools_of(cache, "vlan")}
    return await allocations.release_pools(cache, owner, stale) if stale else []
