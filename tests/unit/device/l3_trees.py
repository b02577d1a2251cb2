"""An L3VPN site as one router holds it (VRF-lite), for every encoding's tests: a VRF with
two static routes to the other sites' subnets, a customer sub-interface holding the PE
address of the customer's subnet and a transit sub-interface with a /31."""

from __future__ import annotations

from intentloop_intents.device import DeviceConfigTree, Interface, SubInterface, Vrf
from intentloop_intents.device.model import StaticRoute

OWNER = frozenset({"tenant-a/vpn"})

L3 = DeviceConfigTree(
    interfaces=(Interface(name="eth1", owners=OWNER), Interface(name="eth2", mtu=9000)),
    vrfs=(
        Vrf(
            name="vpn-a",
            route_target="65000:100",
            description="tenant-a/vpn",
            # given out of order: the model keeps them sorted by prefix
            static_routes=(
                StaticRoute(prefix="10.3.3.0/24", next_hop="169.254.0.1"),
                StaticRoute(prefix="10.2.2.0/24", next_hop="169.254.0.1"),
            ),
            owners=OWNER,
        ),
    ),
    subinterfaces=(
        SubInterface(parent="eth1", vlan_id=100, vrf="vpn-a", ipv4="10.1.1.1/24", owners=OWNER),
        SubInterface(parent="eth2", vlan_id=7, vrf="vpn-a", ipv4="169.254.0.0/31", owners=OWNER),
    ),
)


def with_routes(tree: DeviceConfigTree, *routes: tuple[str, str]) -> DeviceConfigTree:
    """`tree` with its (one) VRF's static routes replaced by `routes` (prefix, next hop)."""
    vrf = tree.vrfs[0].model_copy(
        update={"static_routes": tuple(StaticRoute(prefix=p, next_hop=n) for p, n in routes)}
    )
    return tree.model_copy(update={"vrfs": (Vrf.model_validate(vrf.model_dump()),)})


def with_address(tree: DeviceConfigTree, name: str, ipv4: str | None) -> DeviceConfigTree:
    """`tree` with sub-interface `name` (`eth1.100`) given address `ipv4`."""
    subs = tuple(
        s.model_copy(update={"ipv4": ipv4}) if s.name == name else s for s in tree.subinterfaces
    )
    return tree.model_copy(update={"subinterfaces": subs})
