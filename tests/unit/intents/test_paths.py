"""Constrained paths: which route an intent gets, and why none when nothing fits."""

from __future__ import annotations

import pytest

from intentloop_intents.paths import (
    Constraint,
    Hop,
    NoFeasiblePath,
    PathRequest,
    constrained_path,
    multipoint_routes,
)
from intentloop_intents.topology import Topology
from tests.unit.intents.networks import L, build, diamond


def reason(topology: Topology, request: PathRequest) -> tuple[Constraint, str]:
    with pytest.raises(NoFeasiblePath) as caught:
        constrained_path(topology, request)
    return caught.value.infeasibility.constraint, str(caught.value)


def test_the_cheapest_route_wins_when_it_meets_every_constraint() -> None:
    path = constrained_path(build(diamond()), PathRequest("r1", "r3", bandwidth_mbps=100))
    assert path.links == ("r1-r2", "r2-r3")
    assert path.devices == ("r1", "r2", "r3")
    assert (path.cost, path.latency_ms, path.cost_optimal) == (20, 10, True)


def test_hops_name_the_ports_traffic_enters_and_leaves_by() -> None:
    path = constrained_path(build(diamond()), PathRequest("r3", "r1"))
    assert path.hops == (
        Hop("r3", None, "e1"),
        Hop("r2", "e2", "e1"),
        Hop("r1", "e1", None),
    )


def test_a_link_without_enough_free_bandwidth_is_avoided() -> None:
    topology = build(diamond())
    topology.reserve("ns/other", ["r2-r3"], 700)
    path = constrained_path(topology, PathRequest("r1", "r3", bandwidth_mbps=800))
    assert path.links == ("r1-r4", "r4-r3")
    assert path.free_mbps == 1000


def test_no_bandwidth_anywhere_names_the_bottleneck_link_and_its_free_capacity() -> None:
    topology = build(diamond())
    topology.reserve("ns/a", ["r2-r3"], 700)
    topology.reserve("ns/b", ["r1-r4"], 900)
    constraint, message = reason(topology, PathRequest("r1", "r3", bandwidth_mbps=800))
    assert constraint is Constraint.BANDWIDTH
    assert message == (
        "no path with 800 Mbps free from r1 to r3: bottleneck r2-r3 has 300 Mbps free of 1000"
    )


def test_the_bottleneck_named_is_the_one_on_the_widest_route() -> None:
    # r1-r2-r3 offers 300 Mbps, r1-r4-r3 only 100: the widest route's weakest link is named.
    topology = build(diamond())
    topology.reserve("ns/a", ["r2-r3"], 700)
    topology.reserve("ns/b", ["r4-r3"], 900)
    with pytest.raises(NoFeasiblePath) as caught:
        constrained_path(topology, PathRequest("r1", "r3", bandwidth_mbps=500))
    why = caught.value.infeasibility
    assert (why.bottleneck_link, why.free_mbps, why.capacity_mbps) == ("r2-r3", 300, 1000)


def test_a_latency_bound_moves_the_route_to_a_faster_dearer_one_and_says_so() -> None:
    path = constrained_path(build(diamond()), PathRequest("r1", "r3", max_latency_ms=6))
    assert path.links == ("r1-r4", "r4-r3")
    assert path.latency_ms == 4
    assert not path.cost_optimal


def test_a_binding_bound_gets_a_route_cheaper_than_the_fastest_one() -> None:
    # Three parallel links: cheap but slow, middle, fast but dear. Within 8 ms the middle
    # one is the best; plain "fall back to the lowest latency" would pick the dear one.
    topology = build(
        [
            L("slow", "r1:e1", "r2:e1", cost=10, latency=10),
            L("middle", "r1:e2", "r2:e2", cost=15, latency=7),
            L("fast", "r1:e3", "r2:e3", cost=40, latency=2),
        ]
    )
    path = constrained_path(topology, PathRequest("r1", "r2", max_latency_ms=8))
    assert path.links == ("middle",)
    assert 10 < path.cost_lower_bound <= 15
    assert path.note.startswith("the cheapest route takes 10.0 ms, over the 8.0 ms bound")


def test_an_unreachable_latency_bound_reports_the_lowest_achievable_latency() -> None:
    constraint, message = reason(
        build(diamond()), PathRequest("r1", "r3", bandwidth_mbps=100, max_latency_ms=3)
    )
    assert constraint is Constraint.LATENCY
    assert message.startswith(
        "lowest achievable latency 4.0 ms with 100 Mbps free from r1 to r3 exceeds bound 3.0 ms"
    )


def test_a_route_exactly_at_its_latency_bound_is_accepted_despite_float_rounding() -> None:
    topology = build([L("a", "r1:e1", "r2:e1", latency=0.1), L("b", "r2:e2", "r3:e1", latency=0.2)])
    assert constrained_path(topology, PathRequest("r1", "r3", max_latency_ms=0.3)).links == (
        "a",
        "b",
    )


def test_measured_latency_steers_the_route() -> None:
    topology = build(diamond())
    topology.set_measured_latency("r2-r3", 40)
    path = constrained_path(topology, PathRequest("r1", "r3", max_latency_ms=20))
    assert path.links == ("r1-r4", "r4-r3")


def test_down_links_and_unreachable_devices_are_never_crossed() -> None:
    topology = build(diamond())
    topology.set_link_state("r2-r3", oper_up=False)
    assert constrained_path(topology, PathRequest("r1", "r3")).links == ("r1-r4", "r4-r3")
    topology.set_link_state("r2-r3", oper_up=True)
    topology.upsert_device("r2", reachable=False)
    assert constrained_path(topology, PathRequest("r1", "r3")).links == ("r1-r4", "r4-r3")


def test_a_cut_network_names_the_down_links_and_lost_devices_that_cut_it() -> None:
    topology = build(diamond())
    topology.set_link_state("r2-r3", oper_up=False)
    topology.upsert_device("r4", reachable=False)
    constraint, message = reason(topology, PathRequest("r1", "r3"))
    assert constraint is Constraint.NO_ROUTE
    assert message == "no route from r1 to r3; cut by link r2-r3 down, device r4 unusable"


def test_unknown_and_unreachable_endpoints_are_named() -> None:
    topology = build(diamond())
    assert reason(topology, PathRequest("r1", "r9")) == (
        Constraint.UNKNOWN_ENDPOINT,
        "endpoint r9 unknown",
    )
    topology.upsert_device("r3", reachable=False)
    assert reason(topology, PathRequest("r1", "r3")) == (
        Constraint.ENDPOINT_UNREACHABLE,
        "endpoint r3 is unreachable",
    )


def test_a_device_only_named_by_a_link_is_not_a_known_endpoint() -> None:
    topology = build(diamond())
    topology.upsert_link(L("r3-r5", "r3:e9", "r5:e1").spec())
    assert reason(topology, PathRequest("r1", "r5"))[0] is Constraint.UNKNOWN_ENDPOINT


def test_equal_routes_are_split_the_same_way_whatever_the_insertion_order() -> None:
    square = [
        L("b-up", "r1:e1", "r2:e1"),
        L("b-down", "r2:e2", "r4:e1"),
        L("a-up", "r1:e2", "r3:e1"),
        L("z-down", "r3:e2", "r4:e2"),
        L("c-par", "r1:e3", "r2:e3"),
    ]
    chosen = {
        constrained_path(build(square, seed=seed), PathRequest("r1", "r4")).links
        for seed in range(20)
    }
    assert len(chosen) == 1
    assert chosen <= {("b-up", "b-down"), ("c-par", "b-down"), ("a-up", "z-down")}


def test_the_cheaper_of_two_parallel_links_is_used() -> None:
    topology = build(
        [L("slow", "r1:e1", "r2:e1", cost=30), L("fast", "r1:e2", "r2:e2", cost=5, capacity=100)]
    )
    assert constrained_path(topology, PathRequest("r1", "r2")).links == ("fast",)
    assert constrained_path(topology, PathRequest("r1", "r2", bandwidth_mbps=200)).links == (
        "slow",
    )


def test_recomputing_an_owners_route_does_not_compete_with_its_own_reservation() -> None:
    topology = build(diamond())
    topology.reserve("ns/svc", ["r1-r2", "r2-r3"], 800)
    alone = PathRequest("r1", "r3", bandwidth_mbps=800)
    again = PathRequest("r1", "r3", bandwidth_mbps=800, reuse_owners=("ns/svc",))
    assert constrained_path(topology, alone).links == ("r1-r4", "r4-r3")
    assert constrained_path(topology, again).links == ("r1-r2", "r2-r3")


def test_both_ends_on_one_device_is_a_route_without_links() -> None:
    path = constrained_path(build(diamond()), PathRequest("r2", "r2", bandwidth_mbps=5000))
    assert (path.links, path.hops) == ((), (Hop("r2", None, None),))


def test_excluded_links_and_srlgs_are_avoided() -> None:
    topology = build(diamond())
    assert constrained_path(
        topology, PathRequest("r1", "r3", exclude_srlgs=frozenset({"duct-1"}))
    ).links == ("r1-r4", "r4-r3")
    constraint, message = reason(
        topology, PathRequest("r1", "r3", exclude_links=frozenset({"r4-r3", "r2-r3"}))
    )
    assert constraint is Constraint.NO_ROUTE
    assert "r2-r3 excluded" in message


def test_multipoint_routes_form_a_star_from_the_first_device() -> None:
    routes = multipoint_routes(build(diamond()), ("r1", "r3", "r4", "r1"), PathRequest("", ""))
    assert [(r.devices[0], r.devices[-1]) for r in routes] == [("r1", "r3"), ("r1", "r4")]


def test_a_request_without_bandwidth_crosses_even_overbooked_links() -> None:
    topology = build(diamond())
    topology.reserve("ns/old", ["r1-r2", "r2-r3"], 1500, check_capacity=False)
    assert constrained_path(topology, PathRequest("r1", "r3")).links == ("r1-r2", "r2-r3")
    assert constrained_path(topology, PathRequest("r1", "r3", 1)).links == ("r1-r4", "r4-r3")
