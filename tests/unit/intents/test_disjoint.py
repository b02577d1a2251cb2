"""Protected intents: a primary and a backup that share no link and no shared-risk group."""

from __future__ import annotations

import pytest

from intentloop_intents.paths import (
    Constraint,
    Infeasibility,
    NoFeasiblePath,
    PathRequest,
    disjoint_pair,
)
from intentloop_intents.topology import Topology
from tests.unit.intents.networks import L, build


def three_ways(*, middle_srlg: str = "duct-1") -> list[L]:
    """r1 to r9 three ways: top (cheapest), middle (shares a duct with top), bottom."""
    return [
        L("t1", "r1:t", "ta:1", cost=1, srlgs=("duct-1",)),
        L("t2", "ta:2", "r9:t", cost=1),
        L("m1", "r1:m", "ma:1", cost=2, srlgs=(middle_srlg,)),
        L("m2", "ma:2", "r9:m", cost=2),
        L("b1", "r1:b", "ba:1", cost=5),
        L("b2", "ba:2", "r9:b", cost=5),
    ]


def why(topology: Topology, request: PathRequest) -> Infeasibility:
    with pytest.raises(NoFeasiblePath) as caught:
        disjoint_pair(topology, request)
    return caught.value.infeasibility


def test_the_backup_avoids_every_link_sharing_a_risk_group_with_the_primary() -> None:
    pair = disjoint_pair(build(three_ways()), PathRequest("r1", "r9"))
    assert pair.primary.links == ("t1", "t2")
    assert pair.backup.links == ("b1", "b2")


def test_without_a_shared_risk_the_next_cheapest_route_is_the_backup() -> None:
    pair = disjoint_pair(build(three_ways(middle_srlg="duct-2")), PathRequest("r1", "r9"))
    assert pair.backup.links == ("m1", "m2")
    assert pair.links == ("m1", "m2", "t1", "t2")


def test_the_backup_needs_the_bandwidth_too() -> None:
    topology = build(three_ways(middle_srlg="duct-2"))
    topology.reserve("ns/other", ["m2"], 950)
    pair = disjoint_pair(topology, PathRequest("r1", "r9", bandwidth_mbps=100))
    assert pair.backup.links == ("b1", "b2")


def test_a_trap_topology_still_yields_the_disjoint_pair() -> None:
    # The cheapest route s-a-b-t leaves no partner; s-a-t with s-b-t is the disjoint pair.
    topology = build(
        [
            L("sa", "s:1", "a:1", cost=1),
            L("ab", "a:2", "b:1", cost=1),
            L("bt", "b:2", "t:1", cost=1),
            L("sb", "s:2", "b:3", cost=3),
            L("at", "a:3", "t:2", cost=3),
        ]
    )
    pair = disjoint_pair(topology, PathRequest("s", "t"))
    assert {pair.primary.links, pair.backup.links} == {("sa", "at"), ("sb", "bt")}
    assert not pair.primary.cost_optimal
    assert pair.primary.cost <= pair.backup.cost


def test_a_bridge_is_named_when_no_link_disjoint_backup_exists() -> None:
    topology = build([*three_ways(middle_srlg="duct-2"), L("tail", "r9:x", "r10:x")])
    reason = why(topology, PathRequest("r1", "r10"))
    assert reason.constraint is Constraint.DISJOINTNESS
    assert reason.bottleneck_link == "tail"
    assert (
        reason.message
        == "no link-disjoint backup from r1 to r10: every route crosses link tail (r9-r10)"
    )


def test_a_risk_group_every_route_crosses_is_named() -> None:
    links = [
        L("t1", "r1:t", "ta:1", cost=1, srlgs=("duct-1",)),
        L("t2", "ta:2", "r9:t", cost=1),
        L("b1", "r1:b", "ba:1", cost=5),
        L("b2", "ba:2", "r9:b", cost=5, srlgs=("duct-1",)),
    ]
    reason = why(build(links), PathRequest("r1", "r9"))
    assert reason.constraint is Constraint.DISJOINTNESS
    assert reason.shared_srlgs == ("duct-1",)
    assert reason.message == "no SRLG-disjoint backup from r1 to r9: all paths share srlg duct-1"


def test_bandwidth_decides_which_routes_count_when_naming_a_bridge() -> None:
    topology = build(three_ways(middle_srlg="duct-2"))
    topology.reserve("ns/x", ["m1"], 950)
    topology.reserve("ns/y", ["b2"], 950)
    reason = why(topology, PathRequest("r1", "r9", bandwidth_mbps=100))
    assert reason.message.startswith("no link-disjoint backup from r1 to r9: every route with")
    assert reason.bottleneck_link in {"t1", "t2"}


def test_a_backup_too_slow_for_the_bound_is_reported_as_such() -> None:
    links = [
        L("t1", "r1:t", "r9:t", cost=1, latency=2),
        L("b1", "r1:b", "r9:b", cost=2, latency=20),
    ]
    reason = why(build(links), PathRequest("r1", "r9", max_latency_ms=10))
    assert reason.constraint is Constraint.DISJOINTNESS
    assert "lowest achievable latency 20.0 ms" in reason.message


def test_the_pair_is_the_same_whatever_the_insertion_order() -> None:
    pairs = {
        (p.primary.links, p.backup.links)
        for p in (
            disjoint_pair(build(three_ways(middle_srlg="duct-2"), seed=s), PathRequest("r1", "r9"))
            for s in range(10)
        )
    }
    assert pairs == {(("t1", "t2"), ("m1", "m2"))}


def test_a_primary_two_links_off_the_best_route_is_found_when_only_it_has_a_partner() -> None:
    # Found by brute-force comparison on random networks (seed 584): within 6 ms only
    # l11-l09-l06 with l08-l02-l07-l05 are link- and SRLG-disjoint, and neither is the best
    # route (l11-l05) nor one link away from it.
    links = [
        L("l00", "n1:p1", "n0:p1", latency=1, cost=2, srlgs=("g3",)),
        L("l01", "n2:p1", "n0:p2", latency=5, cost=1, srlgs=("g1",)),
        L("l02", "n3:p1", "n1:p2", latency=1, cost=3, srlgs=("g2",)),
        L("l03", "n4:p1", "n2:p2", latency=5, cost=1, srlgs=("g1",)),
        L("l04", "n5:p1", "n4:p2", latency=2, cost=3),
        L("l05", "n6:p1", "n0:p3", latency=2, cost=3, srlgs=("g2",)),
        L("l06", "n7:p1", "n0:p4", latency=1, cost=2),
        L("l07", "n1:p3", "n6:p2", latency=1, cost=2),
        L("l08", "n3:p2", "n4:p3", latency=2, cost=3, srlgs=("g0",)),
        L("l09", "n7:p2", "n6:p3", latency=3, cost=2),
        L("l10", "n3:p3", "n5:p2", latency=1, cost=2),
        L("l11", "n4:p4", "n6:p4", latency=1, cost=2, srlgs=("g3",)),
        L("l12", "n6:p5", "n5:p3", latency=3, cost=2),
    ]
    pair = disjoint_pair(build(links), PathRequest("n4", "n0", max_latency_ms=6))
    assert {pair.primary.links, pair.backup.links} == {
        ("l08", "l02", "l07", "l05"),
        ("l11", "l09", "l06"),
    }
    assert pair.primary.note == "primary moved off the best route so that a disjoint backup fits"
