"""Compiling a service intent into what each device on its route must be configured with.

A compiled service is a set of per-device `DeviceConfigTree` *contributions*, every item
owned by the service id ("namespace/name"). The operator merges the contributions of every
intent into one tree per device (`composition.merge`) and removes a deleted service with
`composition.remove_owner`: what a service added is exactly what its removal takes away.

Shapes produced:
- L2 point-to-point: on every device of the route a VLAN named after the service and
  tagged sub-interfaces carrying it (customer ports at the ends, core ports in between);
  the customer ports are enabled, and traffic is policed at the service's bandwidth where
  it enters the network (the customer sub-interfaces), so core links never carry more
  than was reserved for it.
- L3VPN (VRF-lite, multipoint): a VRF with the service's route target on every device of
  the routes joining the endpoints, customer and core sub-interfaces placed in it, the
  customer side policed.

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
    Policer,
    SubInterface,
    Vlan,
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


class L2PointToPoint(BaseModel):
    """An L2 point-to-point service and the route chosen for it (endpoint 0 → endpoint 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ServiceId
    endpoints: tuple[ServiceEndpoint, ServiceEndpoint]
    vlan_id: VlanId
    bandwidth_mbps: int = Field(ge=1, le=400_000)
    hops: tuple[Hop, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _route_joins_the_endpoints(self) -> L2PointToPoint:
        a, b = self.endpoints
        if a == b:
            raise ValueError("both endpoints are the same port")
        _check_route(self.hops, a.device, b.device)
        _check_ports_apart(self.endpoints, (self.hops,))
        return self


class L3Vpn(BaseModel):
    """A multipoint L3VPN: endpoints and the routes that join them (e.g. a star of routes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ServiceId
    endpoints: tuple[ServiceEndpoint, ...] = Field(min_length=2)
    vlan_id: VlanId
    bandwidth_mbps: int = Field(ge=1, le=400_000)
    route_target: str = Field(min_length=3, max_length=64, pattern=r"^[0-9]+:[0-9]+$")
    routes: tuple[tuple[Hop, ...], ...] = ()

    @model_validator(mode="after")
    def _routes_join_every_endpoint(self) -> L3Vpn:
        if len(set(self.endpoints)) != len(self.endpoints):
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
        return self


def compile_l2_p2p(service: L2PointToPoint) -> dict[str, DeviceConfigTree]:
    """Per-device contributions of an L2 point-to-point service, by device name."""
    owner = frozenset({service.service})
    vlan = Vlan(vlan_id=service.vlan_id, name=vlan_name(service.service), owners=owner)
    policer = _policer(service.service, service.bandwidth_mbps, owner)
    parts = _Parts(service.service, service.vlan_id, None, owner)
    contributions: list[dict[str, DeviceConfigTree]] = []
    for hop in service.hops:
        contributions.append({hop.device: parts.core(hop, vlans=(vlan,))})
    for end in service.endpoints:
        contributions.append({end.device: parts.edge(end, policer, vlans=(vlan,))})
    return merge_by_device(contributions)


def compile_l3vpn(service: L3Vpn) -> dict[str, DeviceConfigTree]:
    """Per-device contributions of a VRF-lite L3VPN over the given routes, by device name."""
    owner = frozenset({service.service})
    vrf = Vrf(
        name=vrf_name(service.service),
        route_target=service.route_target,
        description=_text(f"intentloop {service.service}"),
        owners=owner,
    )
    policer = _policer(service.service, service.bandwidth_mbps, owner)
    parts = _Parts(service.service, service.vlan_id, vrf, owner)
    contributions: list[dict[str, DeviceConfigTree]] = []
    for route in service.routes:
        for hop in route:
            contributions.append({hop.device: parts.core(hop)})
    for end in service.endpoints:
        contributions.append({end.device: parts.edge(end, policer)})
    return merge_by_device(contributions)


def policer_name(service: str) -> str:
    return bounded_name("pol-", service)


def vlan_name(service: str) -> str:
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

    def __init__(self, service: str, vlan_id: int, vrf: Vrf | None, owner: frozenset[str]):
        self.service = service
        self.vlan_id = vlan_id
        self.vrf = vrf
        self.owner = owner

    def core(self, hop: Hop, *, vlans: tuple[Vlan, ...] = ()) -> DeviceConfigTree:
        ports = [p for p in (hop.in_interface, hop.out_interface) if p is not None]
        return DeviceConfigTree(
            interfaces=tuple(self._port(p, CORE_PORT) for p in ports),
            vlans=vlans,
            vrfs=self._vrfs(),
            subinterfaces=tuple(self._sub(p, "transit", None) for p in ports),
        )

    def edge(
        self, end: ServiceEndpoint, policer: Policer, *, vlans: tuple[Vlan, ...] = ()
    ) -> DeviceConfigTree:
        return DeviceConfigTree(
            interfaces=(self._port(end.interface, CUSTOMER_PORT),),
            vlans=vlans,
            policers=(policer,),
            vrfs=self._vrfs(),
            subinterfaces=(self._sub(end.interface, "customer", policer.name),),
        )

    def _port(self, name: str, description: str) -> Interface:
        return Interface(name=name, enabled=True, description=description, owners=self.owner)

    def _sub(self, parent: str, role: str, policer: str | None) -> SubInterface:
        return SubInterface(
            parent=parent,
            vlan_id=self.vlan_id,
            description=_text(f"intentloop {self.service} ({role})"),
            vrf=None if self.vrf is None else self.vrf.name,
            policer=policer,
            owners=self.owner,
        )

    def _vrfs(self) -> tuple[Vrf, ...]:
        return () if self.vrf is None else (self.vrf,)


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
