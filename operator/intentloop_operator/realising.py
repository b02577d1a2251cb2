"""What a service needs from the world before anything is written: its route, the
identifiers on it, and the per-device configuration they compile to.

`route_and_identify` is shared by provisioning (`identifiers.take`) and plans
(`identifiers.preview`), so a plan shows exactly what provisioning would take; a link of the
route with no free tag left is routed around.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents import compilation
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import identifiers, routing
from intentloop_operator.identifiers import Identifiers
from intentloop_operator.outcomes import CompilationError, sentence
from intentloop_operator.runtime import Runtime


def compile_service(
    owner: str, spec: NetworkServiceSpec, r: routing.Routing, ids: Identifiers, rt_asn: int
) -> dict[str, Any]:
    """Per-device contributions; raises CompilationError saying in words what is refused."""
    try:
        return _compile(owner, spec, r, ids, rt_asn)
    except ValidationError as e:
        raise CompilationError(sentence(e)) from None
    except ValueError as e:
        raise CompilationError(str(e)[:1000]) from None


def _compile(
    owner: str, spec: NetworkServiceSpec, r: routing.Routing, ids: Identifiers, rt_asn: int
) -> dict[str, Any]:
    ends = tuple(
        compilation.ServiceEndpoint(
            device=e.device, interface=e.interface, vlan=vlan, address=e.address
        )
        for e, vlan in zip(spec.endpoints, ids.endpoint_vlans, strict=True)
    )
    if spec.type == "l3vpn":
        return compilation.compile_l3vpn(
            compilation.L3Vpn(
                service=owner,
                endpoints=ends,
                bandwidth_mbps=spec.bandwidth_mbps,
                route_target=alloc.route_target(rt_asn, ids.service_id),
                routes=tuple(p.hops for p in r.routes),
                route_links=tuple(p.links for p in r.routes),
                link_tags=ids.link_tags,
            )
        )
    return compilation.compile_l2_p2p(
        compilation.L2PointToPoint(
            service=owner,
            endpoints=(ends[0], ends[1]),
            bandwidth_mbps=spec.bandwidth_mbps,
            hops=r.primary.hops,
            links=r.primary.links,
            link_tags=ids.link_tags,
        )
    )


MAX_FULL_LINKS = 4  # links found without a free tag in one pass before it waits instead

Identify = Callable[[list[str]], Awaitable[Identifiers]]


async def route_and_identify(
    rt: Runtime, namespace: str, name: str, spec: NetworkServiceSpec, identify: Identify
) -> tuple[routing.Routing, Identifiers, frozenset[str]]:
    """The route and the identifiers on it (`identify`: take, or preview for a plan); a link
    with no free tag left is routed around. Also returns the links given up this way."""
    full: set[str] = set()
    last: identifiers.LinkFull | None = None
    while True:
        try:
            r = routing.route(rt, namespace, name, spec, frozenset(full))
        except routing.NotRoutable:
            if last is None:
                raise
            raise last from None  # the route is there, its tags are not: say so
        try:
            return r, await identify(configured_links(spec, r)), frozenset(full)
        except identifiers.LinkFull as e:
            if e.link in full or len(full) >= MAX_FULL_LINKS:
                raise
            full.add(e.link)
            last = e


def configured_links(spec: NetworkServiceSpec, r: routing.Routing) -> list[str]:
    """The links whose ports carry the service (each needs a tag): the primary route of an
    L2 service, every route of an L3VPN."""
    routes = r.routes if spec.type == "l3vpn" else [r.primary]
    return sorted({link for p in routes for link in p.links})
