"""Compiling services to per-device config, composing them, and taking one out again."""

from __future__ import annotations

import ipaddress
import random

import pytest
from pydantic import ValidationError

from intentloop_intents import compilation, composition
from intentloop_intents.compilation import L2PointToPoint, L3Vpn, ServiceEndpoint
from intentloop_intents.composition import ConfigConflict
from intentloop_intents.device.model import DeviceConfigTree, Interface, SubInterface
from intentloop_intents.paths import Hop, PathRequest, constrained_path, multipoint_routes
from tests.unit.intents.networks import build, diamond


def l2(
    service: str = "tenant-a/web",
    *,
    vlan: int = 100,
    a: tuple[str, str] = ("r1", "cust1"),
    b: tuple[str, str] = ("r3", "cust1"),
    hops: tuple[Hop, ...] | None = None,
) -> L2PointToPoint:
    route = hops or (Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None))
    return L2PointToPoint(
        service=service,
        endpoints=(
            ServiceEndpoint(device=a[0], interface=a[1]),
            ServiceEndpoint(device=b[0], interface=b[1]),
        ),
        vlan_id=vlan,
        bandwidth_mbps=200,
        hops=route,
    )


def network(*services: L2PointToPoint) -> dict[str, DeviceConfigTree]:
    return composition.merge_by_device(compilation.compile_l2_p2p(s) for s in services)


def test_an_l2_service_configures_every_device_on_its_route() -> None:
    trees = compilation.compile_l2_p2p(l2())
    assert list(trees) == ["r1", "r2", "r3"]
    transit = trees["r2"]
    assert [i.name for i in transit.interfaces] == ["e1", "e2"]
    assert [s.name for s in transit.subinterfaces] == ["e1.100", "e2.100"]
    assert transit.vlans == ()  # joined by L2 instance, not by a network-wide VLAN
    assert {s.l2_instance for s in transit.subinterfaces} == {"svc-tenant-a.web"}
    assert transit.policers == ()  # traffic is policed where it enters, not in transit
    edge = trees["r1"]
    assert {i.name: i.description for i in edge.interfaces} == {
        "cust1": compilation.CUSTOMER_PORT,
        "e1": compilation.CORE_PORT,
    }
    customer = next(s for s in edge.subinterfaces if s.parent == "cust1")
    assert customer.policer == "pol-tenant-a.web"
    assert [(p.name, p.rate_mbps) for p in edge.policers] == [("pol-tenant-a.web", 200)]
    assert all(i.enabled for i in edge.interfaces)


def test_every_item_is_owned_by_the_service() -> None:
    for tree in compilation.compile_l2_p2p(l2()).values():
        items = [*tree.interfaces, *tree.vlans, *tree.policers, *tree.vrfs, *tree.subinterfaces]
        assert items and all(item.owners == {"tenant-a/web"} for item in items)


def test_the_hops_of_a_computed_path_compile_directly() -> None:
    path = constrained_path(build(diamond()), PathRequest("r1", "r3", 100))
    trees = compilation.compile_l2_p2p(l2(hops=path.hops))
    assert list(trees) == list(path.devices)


def test_a_service_inside_one_device_needs_no_core_ports() -> None:
    trees = compilation.compile_l2_p2p(
        l2(a=("r1", "cust1"), b=("r1", "cust2"), hops=(Hop("r1", None, None),))
    )
    assert [s.name for s in trees["r1"].subinterfaces] == ["cust1.100", "cust2.100"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hops": (Hop("r2", None, "e1"), Hop("r3", "e1", None))}, "route runs r2 to r3"),
        ({"hops": (Hop("r1", None, None), Hop("r3", "e1", None))}, "exactly between devices"),
        ({"a": ("r3", "cust1")}, "same port"),
        ({"a": ("r1", "e1")}, "r1:e1 is both a customer port and a core port"),
        ({"service": "no-namespace"}, "service"),
    ],
)
def test_a_route_that_does_not_fit_the_service_is_refused(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        l2(**kwargs)  # type: ignore[arg-type]


def test_long_service_ids_still_give_valid_distinct_names() -> None:
    long_a = "tenant/" + "a" * 200
    long_b = "tenant/" + "a" * 199 + "b"
    names = {compilation.policer_name(long_a), compilation.policer_name(long_b)}
    assert len(names) == 2 and all(len(n) <= 64 for n in names)
    trees = compilation.compile_l2_p2p(l2(long_a))
    assert trees["r1"].policers[0].name in names


def test_two_services_share_a_port_which_appears_once_with_both_owners() -> None:
    merged = network(l2("t/a", vlan=100), l2("t/b", vlan=200))
    port = next(i for i in merged["r2"].interfaces if i.name == "e1")
    assert port.owners == {"t/a", "t/b"}
    assert [s.name for s in merged["r2"].subinterfaces] == ["e1.100", "e1.200", "e2.100", "e2.200"]


def test_two_services_on_one_tag_of_a_link_conflict_and_the_error_names_both() -> None:
    with pytest.raises(
        ConfigConflict,
        match=r"r1: subinterface e1.100: description .* conflict \(wanted by t/a and by t/b\)",
    ):
        network(l2("t/a", vlan=100), l2("t/b", vlan=100, a=("r1", "cust2"), b=("r3", "cust2")))


def test_adding_then_removing_a_service_leaves_exactly_the_previous_config() -> None:
    before = network(l2("t/a", vlan=100), l2("t/b", vlan=200, a=("r1", "cust2")))
    added = composition.merge_by_device([before, compilation.compile_l2_p2p(l2("t/c", vlan=300))])
    assert composition.changed_devices(before, added) == ("r1", "r2", "r3")
    after = composition.remove_owner_by_device(added, "t/c")
    assert after == before
    assert composition.changed_devices(before, after) == ()


def test_removing_a_service_keeps_what_another_still_needs() -> None:
    merged = network(l2("t/a", vlan=100), l2("t/b", vlan=200))
    only_b = composition.remove_owner(merged["r2"], "t/a")
    assert [(i.name, i.owners) for i in only_b.interfaces] == [
        ("e1", frozenset({"t/b"})),
        ("e2", frozenset({"t/b"})),
    ]
    assert [s.name for s in only_b.subinterfaces] == ["e1.200", "e2.200"]
    assert composition.remove_owner(only_b, "t/b").is_empty()


def test_items_without_owners_are_not_removed_with_an_owner() -> None:
    foreign = DeviceConfigTree(interfaces=(Interface(name="mgmt0"),))
    merged = composition.merge([foreign, compilation.compile_l2_p2p(l2())["r1"]])
    assert [i.name for i in composition.remove_owner(merged, "tenant-a/web").interfaces] == [
        "mgmt0"
    ]


def test_merge_order_does_not_matter() -> None:
    services = [l2(f"t/s{i}", vlan=100 + i, a=("r1", f"c{i}"), b=("r3", f"c{i}")) for i in range(6)]
    rng = random.Random(5)
    results = set()
    for _ in range(5):
        rng.shuffle(services)
        merged = network(*services)
        results.add(tuple(merged.items()))  # items compare in order; owners as sets
    assert len(results) == 1


def test_changed_devices_treats_a_missing_device_as_empty() -> None:
    tree = DeviceConfigTree(interfaces=(Interface(name="e1", owners=frozenset({"t/a"})),))
    assert composition.changed_devices({}, {"r1": DeviceConfigTree()}) == ()
    assert composition.changed_devices({"r1": tree}, {}) == ("r1",)
    relabelled = DeviceConfigTree(interfaces=(Interface(name="e1", owners=frozenset({"t/b"})),))
    assert composition.changed_devices({"r1": tree}, {"r1": relabelled}) == ("r1",)


def test_a_subinterface_wanted_two_ways_is_a_conflict() -> None:
    one = DeviceConfigTree(
        subinterfaces=(SubInterface(parent="e1", vlan_id=5, owners=frozenset({"t/a"})),)
    )
    two = DeviceConfigTree(
        subinterfaces=(
            SubInterface(parent="e1", vlan_id=5, description="x", owners=frozenset({"t/b"})),
        )
    )
    with pytest.raises(ConfigConflict, match=r"subinterface e1\.5: description '' and 'x'"):
        composition.merge([one, two])


def vpn(routes: tuple[tuple[Hop, ...], ...]) -> L3Vpn:
    return L3Vpn(
        service="t/vpn",
        endpoints=tuple(
            ServiceEndpoint(device=d, interface="cust9", address=f"10.0.{i}.1/24")
            for i, d in enumerate(("r1", "r3", "r4"))
        ),
        vlan_id=900,
        bandwidth_mbps=50,
        route_target="65000:900",
        routes=routes,
    )


def test_an_l3vpn_puts_a_vrf_with_its_route_target_on_every_device_of_its_routes() -> None:
    routes = multipoint_routes(build(diamond()), ("r1", "r3", "r4"), PathRequest("", "", 50))
    trees = compilation.compile_l3vpn(vpn(tuple(r.hops for r in routes)))
    assert sorted(trees) == sorted({d for r in routes for d in r.devices})
    for tree in trees.values():
        assert [(v.name, v.route_target) for v in tree.vrfs] == [("vrf-t.vpn", "65000:900")]
        assert all(s.vrf == "vrf-t.vpn" for s in tree.subinterfaces)
    customer = [s for s in trees["r4"].subinterfaces if s.parent == "cust9"]
    assert customer[0].policer == "pol-t.vpn"


def test_an_l3vpn_whose_routes_leave_an_endpoint_apart_is_refused() -> None:
    with pytest.raises(ValidationError, match="routes leave endpoint devices apart"):
        vpn(((Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None)),))


def test_composition_is_reachable_from_compilation_as_one_entry_point() -> None:
    trees = compilation.compile_l2_p2p(l2())
    merged = compilation.merge([trees["r2"], trees["r2"]])
    assert merged == trees["r2"]
    assert compilation.remove_owner(merged, "tenant-a/web").is_empty()
    assert compilation.changed_devices(trees, {}) == ("r1", "r2", "r3")


def test_an_l3vpn_with_every_endpoint_on_one_device_needs_no_routes() -> None:
    service = L3Vpn(
        service="t/local",
        endpoints=(
            ServiceEndpoint(device="r1", interface="c1", address="10.1.0.1/24"),
            ServiceEndpoint(device="r1", interface="c2", address="10.2.0.1/24"),
        ),
        vlan_id=10,
        bandwidth_mbps=5,
        route_target="65000:1",
    )
    trees = compilation.compile_l3vpn(service)
    assert list(trees) == ["r1"]
    assert [(s.name, s.ipv4) for s in trees["r1"].subinterfaces] == [
        ("c1.10", "10.1.0.1/24"),
        ("c2.10", "10.2.0.1/24"),
    ]
    assert trees["r1"].vrfs[0].static_routes == ()  # both subnets are connected


def per_link(service: str, ends: tuple[int, int], tags: tuple[int, int]) -> L2PointToPoint:
    """r1 -(l1)- r2 -(l2)- r3 with the customer's VLANs `ends` and the links' `tags`."""
    return L2PointToPoint(
        service=service,
        endpoints=(
            ServiceEndpoint(device="r1", interface="cust1", vlan=ends[0]),
            ServiceEndpoint(device="r3", interface="cust1", vlan=ends[1]),
        ),
        bandwidth_mbps=10,
        hops=(Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None)),
        links=("l1", "l2"),
        link_tags={"l1": tags[0], "l2": tags[1]},
    )


def _subs(tree: DeviceConfigTree) -> dict[str, tuple[int, str | None]]:
    return {s.parent: (s.vlan_id, s.l2_instance) for s in tree.subinterfaces}


def test_each_link_carries_its_own_tag_and_each_end_the_customers_vlan() -> None:
    trees = compilation.compile_l2_p2p(per_link("t/a", (100, 2000), (37, 4000)))
    l2x = "svc-t.a"
    assert _subs(trees["r1"]) == {"cust1": (100, l2x), "e1": (37, l2x)}
    assert _subs(trees["r2"]) == {"e1": (37, l2x), "e2": (4000, l2x)}  # r2 translates
    assert _subs(trees["r3"]) == {"e1": (4000, l2x), "cust1": (2000, l2x)}


def test_two_services_with_the_same_tags_on_different_links_share_a_router() -> None:
    a = per_link("t/a", (100, 100), (5, 6))
    b = per_link("t/b", (100, 100), (6, 5))  # r2 e1 carries 5 and 6, so does e2
    b = b.model_copy(
        update={
            "endpoints": tuple(e.model_copy(update={"interface": "cust2"}) for e in b.endpoints)
        }
    )
    merged = network(a, b)
    transit = {(s.name, s.l2_instance) for s in merged["r2"].subinterfaces}
    assert transit == {
        ("e1.5", "svc-t.a"),
        ("e2.6", "svc-t.a"),
        ("e1.6", "svc-t.b"),
        ("e2.5", "svc-t.b"),
    }


def test_a_port_without_a_tag_of_its_own_or_the_services_is_refused() -> None:
    with pytest.raises(ValidationError, match="link l2: no tag"):
        L2PointToPoint(
            service="t/a",
            endpoints=(
                ServiceEndpoint(device="r1", interface="cust1", vlan=1),
                ServiceEndpoint(device="r3", interface="cust1", vlan=2),
            ),
            bandwidth_mbps=10,
            hops=(Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None)),
            links=("l1", "l2"),
            link_tags={"l1": 7},
        )


def test_an_l3vpn_tags_each_link_of_each_route_with_its_own_tag() -> None:
    vpn = L3Vpn(
        service="t/v",
        endpoints=(
            ServiceEndpoint(device="r1", interface="cust1", vlan=10, address="10.1.0.1/24"),
            ServiceEndpoint(device="r3", interface="cust1", vlan=20, address="10.3.0.1/24"),
        ),
        bandwidth_mbps=10,
        route_target="65000:1",
        routes=((Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None)),),
        route_links=(("l1", "l2"),),
        link_tags={"l1": 300, "l2": 301},
    )
    trees = compilation.compile_l3vpn(vpn)
    assert {s.name: s.vrf for s in trees["r2"].subinterfaces} == {
        "e1.300": "vrf-t.v",
        "e2.301": "vrf-t.v",
    }
    assert {s.name for s in trees["r3"].subinterfaces} == {"e1.301", "cust1.20"}


def _routes(tree: DeviceConfigTree) -> dict[str, str]:
    return {r.prefix: r.next_hop for v in tree.vrfs for r in v.static_routes}


def _address(tree: DeviceConfigTree, parent: str) -> str | None:
    return next(s.ipv4 for s in tree.subinterfaces if s.parent == parent)


def test_an_l3vpn_routes_every_sites_subnet_towards_it_over_numbered_core_links() -> None:
    # a star from r1: r1 -e1- r2 -e2- r3 and r1 -e1- r2 -e3- r4 (r2 is shared)
    star = L3Vpn(
        service="t/v",
        endpoints=(
            ServiceEndpoint(device="r1", interface="c", address="10.1.0.1/24"),
            ServiceEndpoint(device="r3", interface="c", address="10.3.0.1/24"),
            ServiceEndpoint(device="r4", interface="c", address="192.168.4.254/24"),
        ),
        vlan_id=7,
        bandwidth_mbps=10,
        route_target="65000:1",
        routes=(
            (Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None)),
            (Hop("r1", None, "e1"), Hop("r2", "e1", "e3"), Hop("r4", "e1", None)),
        ),
    )
    trees = compilation.compile_l3vpn(star)
    # the customer sub-interfaces carry the sites' gateways
    assert _address(trees["r4"], "c") == "192.168.4.254/24"
    # each core link is a /31, one address at each end, the same link numbered the same on
    # both routes
    r1_r2 = (_address(trees["r1"], "e1"), _address(trees["r2"], "e1"))
    r2_r3 = (_address(trees["r2"], "e2"), _address(trees["r3"], "e1"))
    r2_r4 = (_address(trees["r2"], "e3"), _address(trees["r4"], "e1"))
    ends = [a for pair in (r1_r2, r2_r3, r2_r4) for a in pair]
    assert all(a is not None and a.startswith("169.254.") and a.endswith("/31") for a in ends)
    assert len(set(ends)) == 6
    for a, b in (r1_r2, r2_r3, r2_r4):
        assert ipaddress.IPv4Interface(a).network == ipaddress.IPv4Interface(b).network

    def ip(address: str | None) -> str:
        return str(ipaddress.IPv4Interface(address).ip)

    # r1 reaches both remote sites through r2; r2 sends each site's subnet its own way
    assert _routes(trees["r1"]) == {"10.3.0.0/24": ip(r1_r2[1]), "192.168.4.0/24": ip(r1_r2[1])}
    assert _routes(trees["r2"]) == {
        "10.1.0.0/24": ip(r1_r2[0]),
        "10.3.0.0/24": ip(r2_r3[1]),
        "192.168.4.0/24": ip(r2_r4[1]),
    }
    assert _routes(trees["r3"]) == {"10.1.0.0/24": ip(r2_r3[0]), "192.168.4.0/24": ip(r2_r3[0])}
    assert _routes(trees["r4"]) == {"10.1.0.0/24": ip(r2_r4[0]), "10.3.0.0/24": ip(r2_r4[0])}


@pytest.mark.parametrize(
    ("addresses", "refusal"),
    [
        (("10.1.0.1/24", "10.1.0.200/16"), r"endpoints\[1\]\.address 10\.1\.0\.200/16 overlaps"),
        (("10.1.0.1/24", "169.254.3.1/24"), r"inside 169\.254\.0\.0/16"),
        (("10.1.0.1/24", None), r"endpoints\[1\] \(r3 c\): no address"),
    ],
)
def test_an_l3vpn_whose_sites_share_a_subnet_or_give_none_is_refused(
    addresses: tuple[str, str | None], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal):
        L3Vpn(
            service="t/v",
            endpoints=(
                ServiceEndpoint(device="r1", interface="c", address=addresses[0]),
                ServiceEndpoint(device="r3", interface="c", address=addresses[1]),
            ),
            vlan_id=7,
            bandwidth_mbps=10,
            route_target="65000:1",
            routes=((Hop("r1", None, "e1"), Hop("r2", "e1", "e2"), Hop("r3", "e1", None)),),
        )


def test_two_vpns_may_use_the_same_subnets_and_transit_addresses_on_one_router() -> None:
    def one(name: str, port: str) -> L3Vpn:
        return L3Vpn(
            service=f"t/{name}",
            endpoints=(
                ServiceEndpoint(device="r1", interface=port, address="10.0.0.1/24"),
                ServiceEndpoint(device="r2", interface=port, address="10.0.1.1/24"),
            ),
            vlan_id=7 if name == "a" else 8,
            bandwidth_mbps=10,
            route_target="65000:1",
            routes=((Hop("r1", None, "e1"), Hop("r2", "e1", None)),),
        )

    merged = composition.merge_by_device(
        compilation.compile_l3vpn(v) for v in (one("a", "c1"), one("b", "c2"))
    )
    assert {v.name for v in merged["r1"].vrfs} == {"vrf-t.a", "vrf-t.b"}
    assert {(s.name, s.ipv4) for s in merged["r1"].subinterfaces} == {
        ("c1.7", "10.0.0.1/24"),
        ("c2.8", "10.0.0.1/24"),
        ("e1.7", "169.254.0.0/31"),
        ("e1.8", "169.254.0.0/31"),
    }
