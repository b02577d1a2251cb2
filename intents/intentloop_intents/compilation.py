"""Compiling a service intent into what each device on its route must be configured with.

A compiled service is a set of per-device `DeviceConfigTree` *contributions*, every item
owned by the service id ("namespace/name"). The operator merges the contributions of every
intent into one tree per device (`composition.merge`) and removes a deleted service with
`composition.remove_owner`: what a service added is exactly what its removal takes away.

Identifiers have the scope they have in the world: the customer's VLAN at an attachment is
the customer's (`ServiceEndpoint.vlan`, one per endpoint), and inside the core every link
carries its own tag (`link_tags`, allocated per link): a router joins its sub-interfaces
by the service's L2 instance or VRF, not by equal tags, so it translates between them.
`vlan_id` is the tag of any endpoint or link given none of its own (one tag everywhere).

Shapes produced:
- L2 point-to-point: on every device of the route an L2 instance named after the service
  joining tagged sub-interfaces (customer ports at the ends, core ports in between);
  the customer ports are enabled, and traffic is policed at the service's bandwidth where
  it enters the network (the customer sub-interfaces), so core links never carry more
  than was reserved for it.
- L3VPN (VRF-lite, multipoint): a VRF with the service's route target on every device of
  the routes joining the endpoints, customer and core sub-interfaces placed in it, the
  customer side policed; customer sub-interfaces carry the sites' gateways, core ones a
  /31 each, and every device routes each site's subnet towards it (`compilation_l3`).

Physical ports get a role-wide description, not a per-service one: one port serves many
services, and per-service text would make every second service conflict with the first.
Names for VLANs, policers and VRFs derive from the service id and stay within the device
model's 64 characters (long ids are cut and suffixed with a hash, so they stay unique).
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from intentloop_intents import compilation_l3
from intentloop_intents.compilation_tags import Tags, around, check_tags
from intentloop_intents.composition import (
    ConfigConflict,
    changed_devices,
    merge,
    merge_by_device,
    remove_owner,
    remove_owner_by_device,
)
from intentloop_intents.device.model import (
    DeviceConfigTree,
    Interface,
    InterfaceName,
    Ipv4InterfaceAddress,
    Policer,
    SubInterface,
    VlanId,
    Vrf,
)
from intentloop_intents.paths import Hop

# Composition lives in `composition`; re-exported so `compilation` is the one entry point.
__all__ = [
    "ConfigConflict",
    "L2PointToPoint",
    "L3Vpn",
    "ServiceEndpoint",
    "changed_devices",
    "compile_l2_p2p",
    "compile_l3vpn",
    "l2_instance_name",
    "merge",
    "merge_by_device",
    "policer_name",
    "remove_owner",
    "remove_owner_by_device",
    "vlan_name",
    "vrf_name",
]

CUSTOMER_PORT = "intentloop: customer port"
CORE_PORT = "intentloop: core port"
NAME_LIMIT = 64

ServiceId = Annotated[
    str, Field(min_length=3, max_length=317, pattern=r"^[a-z0-9][-a-z0-9]*/[a-z0-9][-a-z0-9.]*$")
]


class ServiceEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str = Field(min_length=1)
    interface: InterfaceName
    vlan: VlanId | None = None  # the customer's tag here; None: the service's `vlan_id`
    address: Ipv4InterfaceAddress | None = None  # l3vpn: the provider edge's, e.g. 10.1.1.1/24


class L2PointToPoint(BaseModel):
    """An L2 point-to-point service and the route chosen for it (endpoint 0 → endpoint 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ServiceId
    endpoints: tuple[ServiceEndpoint, ServiceEndpoint]
    vlan_id: VlanId | None = None
    bandwidth_mbps: int = Field(ge=1, le=400_000)
    hops: tuple[Hop, ...] = Field(min_length=1)
    links: tuple[str, ...] = ()  # links[i] joins hops[i] and hops[i + 1]
    link_tags: dict[str, VlanId] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _route_joins_the_endpoints(self) -> L2PointToPoint:
        a, b = self.endpoints
        if (a.device, a.interface) == (b.device, b.interface):
            raise ValueError("both endpoints are the same port")
        _check_route(self.hops, a.device, b.device)
        _check_ports_apart(self.endpoints, (self.hops,))
        check_tags(self.endpoints, ((self.hops, self.links),), self.vlan_id, self.link_tags)
        return self


class L3Vpn(BaseModel):
    """A multipoint L3VPN: endpoints and the routes that join them (e.g. a star of routes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ServiceId
    endpoints: tuple[ServiceEndpoint, ...] = Field(min_length=2)
    vlan_id: VlanId | None = None
    bandwidth_mbps: int = Field(ge=1, le=400_000)
    route_target: str = Field(min_length=3, max_length=64, pattern=r"^[0-9]+:[0-9]+$")
    routes: tuple[tuple[Hop, ...], ...] = ()
    route_links: tuple[tuple[str, ...], ...] = ()  # route_links[r][i] joins hops i and i + 1
    link_tags: dict[str, VlanId] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _routes_join_every_endpoint(self) -> L3Vpn:
        ports = [(e.device, e.interface) for e in self.endpoints]
        if len(set(ports)) != len(ports):
            raise ValueError("an endpoint is listed twice")
        ends = {e.device for e in self.endpoints}
        group = {d: d for d in ends}
        for route in self.routes:
            if not route:
                raise ValueError("a route has no hops")
            _check_route(route, route[0].device, route[-1].device)
            for hop in route:
                group.setdefault(hop.device, hop.device)
            for hop in route[1:]:
                _join(group, route[0].device, hop.device)
        _check_ports_apart(self.endpoints, self.routes)
        roots = {_root(group, d) for d in ends}
        if len(roots) > 1:
            raise ValueError(f"routes leave endpoint devices apart: {sorted(ends)}")
        compilation_l3.site_subnets(self.endpoints)
        links = self.route_links or tuple(() for _ in self.routes)
        if len(links) != len(self.routes):
            raise ValueError("route_links: one tuple of links per route")
        check_tags(
            self.endpoints,
            tuple(zip(self.routes, links, strict=True)),
            self.vlan_id,
            self.link_tags,
        )
        return self


def compile_l2_p2p(service: L2PointToPoint) -> dict[str, DeviceConfigTree]:
    """Per-device contributions of an L2 point-to-point service, by device name."""
    owner = frozenset({service.service})
    policer = _policer(service.service, service.bandwidth_mbps, owner)
    tags = Tags(service.vlan_id, service.link_tags)
    parts = _Parts(service.service, tags, {}, owner, l2_instance_name(service.service))
    contributions: list[dict[str, DeviceConfigTree]] = []
    for hop, (before, after) in zip(service.hops, around(service.hops, service.links), strict=True):
        contributions.append({hop.device: parts.core(hop, before, after)})
    for end in service.endpoints:
        contributions.append({end.device: parts.edge(end, policer)})
    return merge_by_device(contributions)


def compile_l3vpn(service: L3Vpn) -> dict[str, DeviceConfigTree]:
    """Per-device contributions of a VRF-lite L3VPN over the given routes, by device name."""
    owner = frozenset({service.service})
    routing = compilation_l3.plan(service.endpoints, service.routes)
    vrfs = {
        device: Vrf(
            name=vrf_name(service.service),
            route_target=service.route_target,
            description=_text(f"intentloop {service.service}"),
            static_routes=routes,
            owners=owner,
        )
        for device, routes in routing.routes.items()
    }
    policer = _policer(service.service, service.bandwidth_mbps, owner)
    tags = Tags(service.vlan_id, service.link_tags)
    parts = _Parts(service.service, tags, vrfs, owner, None, routing.addresses)
    contributions: list[dict[str, DeviceConfigTree]] = []
    links = service.route_links or tuple(() for _ in service.routes)
    for route, route_links in zip(service.routes, links, strict=True):
        for hop, (before, after) in zip(route, around(route, route_links), strict=True):
            contributions.append({hop.device: parts.core(hop, before, after)})
    for end in service.endpoints:
        contributions.append({end.device: parts.edge(end, policer)})
    return merge_by_device(contributions)


def policer_name(service: str) -> str:
    return bounded_name("pol-", service)


def vlan_name(service: str) -> str:
    return bounded_name("svc-", service)


def l2_instance_name(service: str) -> str:
    """The L2 cross-connect of an L2 service on each of its devices."""
    return bounded_name("svc-", service)


def vrf_name(service: str) -> str:
    return bounded_name("vrf-", service)


def bounded_name(prefix: str, service: str) -> str:
    """`prefix` + "namespace.name", cut to 64 characters with a hash suffix when longer."""
    full = prefix + service.replace("/", ".")
    if len(full) <= NAME_LIMIT:
        return full
    digest = hashlib.sha256(service.encode()).hexdigest()[:12]
    return f"{full[: NAME_LIMIT - 13]}-{digest}"


def _policer(service: str, mbps: int, owner: frozenset[str]) -> Policer:
    # Burst: 10 ms at the committed rate (1 Mbps for 10 ms = 1.25 kB), at least the default.
    burst = max(1000, math.ceil(mbps * 1.25))
    return Policer(name=policer_name(service), rate_mbps=mbps, burst_kbytes=burst, owners=owner)


class _Parts:
    """Builds one service's pieces on one device: transit ports or a customer port."""

    def __init__(
        self,
        service: str,
        tags: Tags,
        vrfs: dict[str, Vrf],
        owner: frozenset[str],
        l2: str | None,
        addresses: dict[tuple[str, str], str] | None = None,
    ):
        self.service = service
        self.tags = tags
        self.vrfs = vrfs  # device -> the service's VRF there (with that device's routes)
        self.owner = owner
        self.l2_instance = l2
        self.addresses = addresses or {}  # (device, port) -> its address in the VRF

    def core(self, hop: Hop, before: str | None, after: str | None) -> DeviceConfigTree:
        ports = ((hop.in_interface, before), (hop.out_interface, after))
        present = [(p, link) for p, link in ports if p is not None]
        return DeviceConfigTree(
            interfaces=tuple(self._port(p, CORE_PORT) for p, _ in present),
            vrfs=self._vrfs(hop.device),
            subinterfaces=tuple(
                self._sub(hop.device, p, self.tags.of_link(link), "transit", None)
                for p, link in present
            ),
        )

    def edge(self, end: ServiceEndpoint, policer: Policer) -> DeviceConfigTree:
        tag = self.tags.of_end(end)
        return DeviceConfigTree(
            interfaces=(self._port(end.interface, CUSTOMER_PORT),),
            policers=(policer,),
            vrfs=self._vrfs(end.device),
            subinterfaces=(self._sub(end.device, end.interface, tag, "customer", policer.name),),
        )

    def _port(self, name: str, description: str) -> Interface:
        return Interface(name=name, enabled=True, description=description, owners=self.owner)

    def _sub(
        self, device: str, parent: str, tag: int, role: str, policer: str | None
    ) -> SubInterface:
        vrf = self.vrfs.get(device)
        return SubInterface(
            parent=parent,
            vlan_id=tag,
            description=_text(f"intentloop {self.service} ({role})"),
            vrf=None if vrf is None else vrf.name,
            policer=policer,
            l2_instance=self.l2_instance,
            ipv4=self.addresses.get((device, parent)),
            owners=self.owner,
        )

    def _vrfs(self, device: str) -> tuple[Vrf, ...]:
        vrf = self.vrfs.get(device)
        return () if vrf is None else (vrf,)


def _check_route(hops: tuple[Hop, ...], first: str, last: str) -> None:
    if hops[0].device != first or hops[-1].device != last:
        raise ValueError(
            f"route runs {hops[0].device} to {hops[-1].device}, endpoints are {first} and {last}"
        )
    devices = [hop.device for hop in hops]
    if len(set(devices)) != len(devices):
        raise ValueError(f"route visits a device twice: {' '.join(devices)}")
    for index, hop in enumerate(hops):
        inner_in = index > 0
        inner_out = index < len(hops) - 1
        if (hop.in_interface is not None) != inner_in or (
            hop.out_interface is not None
        ) != inner_out:
            raise ValueError(f"hop {hop.device}: core ports must be set exactly between devices")


def _check_ports_apart(
    endpoints: tuple[ServiceEndpoint, ...], routes: tuple[tuple[Hop, ...], ...]
) -> None:
    customer = {(e.device, e.interface) for e in endpoints}
    for route in routes:
        for hop in route:
            for port in (hop.in_interface, hop.out_interface):
                if (hop.device, port) in customer:
                    raise ValueError(f"{hop.device}:{port} is both a customer port and a core port")


def _join(group: dict[str, str], a: str, b: str) -> None:
    group[_root(group, a)] = _root(group, b)


def _root(group: dict[str, str], node: str) -> str:
    while group[node] != node:
        node = group[node]
    return node


def _text(value: str) -> str:
    return value if len(value) <= 240 else value[:237] + "..."
