"""The vendor-neutral configuration of one device, as intentloop manages it.

Every adapter renders this tree into its device's native form (NETCONF XML in the
`urn:intentloop:device` namespace, gNMI JSON_IETF under `/intentloop-device:device`) and
parses the device's running configuration back into it, so "read running → model"
round-trips. Each item carries the set of intents that need it (`owners`): shared items are
removed only when their last owner goes, and every line on a device can be traced to intent.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

InterfaceName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_/:.\-]*$")
]
VlanId = Annotated[int, Field(ge=1, le=4094)]
OwnerRef = Annotated[str, Field(min_length=1, max_length=253)]


def _prefix(value: str) -> str:
    """An IPv4 prefix written canonically (`10.1.0.0/16`); host bits set are an error."""
    try:
        return str(ipaddress.IPv4Network(value))
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IPv4 prefix ({e})") from None


def _address(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IPv4 address ({e})") from None


def interface_address(value: str) -> str:
    """An interface address with its prefix length (`10.1.1.1/24`), canonically written."""
    try:
        address = ipaddress.IPv4Interface(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IPv4 address/length ({e})") from None
    if "/" not in value:
        raise ValueError(f"{value!r}: give the prefix length (address/length)")
    if address.network.prefixlen < 31 and address.ip in (
        address.network.network_address,
        address.network.broadcast_address,
    ):
        raise ValueError(f"{value!r}: the subnet's network or broadcast address")
    return str(address)


Ipv4Prefix = Annotated[str, Field(max_length=18), AfterValidator(_prefix)]
Ipv4Address = Annotated[str, Field(max_length=15), AfterValidator(_address)]
Ipv4InterfaceAddress = Annotated[str, Field(max_length=18), AfterValidator(interface_address)]


class _Item(BaseModel):
    # camelCase aliases only for the Kubernetes form (DeviceConfig.spec); Python uses snake_case.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    owners: frozenset[OwnerRef] = frozenset()

    @field_serializer("owners")
    def _sorted_owners(self, owners: frozenset[str]) -> list[str]:
        # Sets serialise in hash order, which varies per process: sort, or equal configs
        # would show false diffs between runs.
        return sorted(owners)


class Interface(_Item):
    """A physical (customer- or core-facing) port."""

    name: InterfaceName
    enabled: bool = True
    description: str = Field(default="", max_length=240)
    mtu: int | None = Field(default=None, ge=68, le=9216)


class Vlan(_Item):
    vlan_id: VlanId
    name: str = Field(default="", max_length=64)


class Policer(_Item):
    """A per-service bandwidth policer (committed information rate)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    rate_mbps: int = Field(ge=1, le=400_000)
    burst_kbytes: int = Field(default=1000, ge=1, le=1_000_000)


class StaticRoute(BaseModel):
    """A route in a VRF: traffic to `prefix` goes to `next_hop` (an address on one of the
    VRF's sub-interfaces)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    prefix: Ipv4Prefix
    next_hop: Ipv4Address


class Vrf(_Item):
    """A routing instance (VRF-lite): its sub-interfaces, and the routes to the prefixes it
    does not hold itself. Connected subnets (a sub-interface's address) need no route."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    route_target: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=240)
    static_routes: tuple[StaticRoute, ...] = Field(default=(), max_length=1024)

    @field_validator("static_routes")
    @classmethod
    def _one_route_per_prefix(cls, routes: tuple[StaticRoute, ...]) -> tuple[StaticRoute, ...]:
        _unique("static_routes", [r.prefix for r in routes])
        # canonical order (by prefix), so a route set parsed back compares equal
        return tuple(sorted(routes, key=lambda r: ipaddress.IPv4Network(r.prefix)))


InstanceName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
]


class SubInterface(_Item):
    """A VLAN-tagged sub-interface of a port; its name is `<parent>.<vlan>`.

    `l2_instance` names the L2 cross-connect it belongs to: the sub-interfaces of one
    router that share it are switched together whatever their tags (each port's tag is
    that port's: the router translates), so one service may use a different tag on every
    link. A sub-interface is either in a VRF or in an L2 instance, not both.
    """

    parent: InterfaceName
    vlan_id: VlanId
    description: str = Field(default="", max_length=240)
    vrf: str | None = None
    policer: str | None = None
    l2_instance: InstanceName | None = None
    ipv4: Ipv4InterfaceAddress | None = None
    """The sub-interface's address and prefix length (a routed sub-interface, in a VRF)."""

    @model_validator(mode="after")
    def _one_forwarding_instance(self) -> SubInterface:
        if self.vrf is not None and self.l2_instance is not None:
            raise ValueError(f"subinterface {self.name}: in a VRF and an L2 instance at once")
        if self.ipv4 is not None and self.vrf is None:
            raise ValueError(f"subinterface {self.name}: an address only in a VRF")
        return self

    @property
    def name(self) -> str:
        return f"{self.parent}.{self.vlan_id}"


class DeviceConfigTree(BaseModel):
    """The part of a device's configuration that intentloop owns, in canonical order."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    interfaces: tuple[Interface, ...] = ()
    vlans: tuple[Vlan, ...] = ()
    policers: tuple[Policer, ...] = ()
    vrfs: tuple[Vrf, ...] = ()
    subinterfaces: tuple[SubInterface, ...] = ()

    @model_validator(mode="after")
    def _keys_are_unique_and_references_resolve(self) -> DeviceConfigTree:
        _unique("interfaces", [i.name for i in self.interfaces])
        _unique("vlans", [str(v.vlan_id) for v in self.vlans])
        _unique("policers", [p.name for p in self.policers])
        _unique("vrfs", [v.name for v in self.vrfs])
        _unique("subinterfaces", [s.name for s in self.subinterfaces])
        policers = {p.name for p in self.policers}
        vrfs = {v.name for v in self.vrfs}
        for sub in self.subinterfaces:
            if sub.policer is not None and sub.policer not in policers:
                raise ValueError(f"subinterfaces[{sub.name}].policer: unknown {sub.policer!r}")
            if sub.vrf is not None and sub.vrf not in vrfs:
                raise ValueError(f"subinterfaces[{sub.name}].vrf: unknown {sub.vrf!r}")
        return self

    def canonical(self) -> DeviceConfigTree:
        """The same tree with every list sorted by key, so equal configs compare equal."""
        return DeviceConfigTree(
            interfaces=tuple(sorted(self.interfaces, key=lambda i: i.name)),
            vlans=tuple(sorted(self.vlans, key=lambda v: v.vlan_id)),
            policers=tuple(sorted(self.policers, key=lambda p: p.name)),
            vrfs=tuple(sorted(self.vrfs, key=lambda v: v.name)),
            subinterfaces=tuple(sorted(self.subinterfaces, key=lambda s: (s.parent, s.vlan_id))),
        )

    def without_owners(self) -> DeviceConfigTree:
        """The canonical tree with every item's owners cleared: what a device that has no
        place for intentloop's bookkeeping (an OpenConfig router) holds of it."""
        canonical = self.canonical()
        return DeviceConfigTree(
            **{
                field: tuple(item.model_copy(update={"owners": frozenset()}) for item in items)
                for field in type(self).model_fields
                if (items := getattr(canonical, field)) is not None
            }
        )

    def is_empty(self) -> bool:
        return not (
            self.interfaces or self.vlans or self.policers or self.vrfs or self.subinterfaces
        )


def _unique(field: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{field}: duplicate key {key!r}")
        seen.add(key)
