"""The topology view: incremental updates, parallel links, reservations kept per owner."""

from __future__ import annotations

import pytest

from intentloop_intents.topology import (
    CapacityExceeded,
    Endpoint,
    LinkSpec,
    Topology,
    TopologyError,
)
from tests.unit.intents.networks import L, build, diamond, link


def test_parallel_links_between_two_devices_are_kept_apart() -> None:
    topology = build(
        [L("a", "r1:e1", "r2:e1", capacity=100), L("b", "r1:e2", "r2:e2", capacity=400)]
    )
    topology.reserve("ns/svc", ["a"], 60)
    assert link(topology, "a").free_mbps == 40
    assert link(topology, "b").free_mbps == 400
    assert topology.graph.number_of_edges("r1", "r2") == 2
    assert topology.link_at("r2", "e2").name == "b"  # type: ignore[union-attr]


def test_a_port_can_only_be_in_one_link() -> None:
    topology = build([L("a", "r1:e1", "r2:e1")])
    with pytest.raises(TopologyError, match="port r1:e1 already used by link a"):
        topology.upsert_link(L("b", "r1:e1", "r3:e1").spec())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"b": Endpoint("r1", "e9")}, "both ends on device r1"),
        ({"capacity_mbps": -1}, "capacity"),
        ({"latency_ms": float("nan")}, "latency"),
        ({"cost": 0}, "cost must be a finite number > 0"),
    ],
)
def test_a_link_with_impossible_numbers_is_refused(change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "x",
        "a": Endpoint("r1", "e1"),
        "b": Endpoint("r2", "e1"),
        "capacity_mbps": 100,
    }
    with pytest.raises(TopologyError, match=message):
        LinkSpec(**(fields | change))  # type: ignore[arg-type]


def test_redefining_a_link_keeps_its_oper_state_and_measurement() -> None:
    topology = build([L("a", "r1:e1", "r2:e1", capacity=100, latency=1)])
    topology.set_link_state("a", oper_up=False)
    topology.set_measured_latency("a", 7.5)
    topology.upsert_link(L("a", "r1:e1", "r2:e1", capacity=200, latency=1).spec())
    link = topology.link("a")
    assert link is not None
    assert (link.capacity_mbps, link.oper_up, link.latency_ms) == (200, False, 7.5)


def test_recabling_a_link_frees_its_old_ports_and_forgets_the_old_measurement() -> None:
    topology = build([L("a", "r1:e1", "r2:e1")], devices=["r3"])
    topology.set_measured_latency("a", 9)
    topology.upsert_link(L("a", "r1:e1", "r3:e4").spec())
    assert topology.link_at("r2", "e1") is None
    assert topology.link_at("r3", "e4").name == "a"  # type: ignore[union-attr]
    assert link(topology, "a").latency_ms == 1.0
    assert not topology.incident("r2")


def test_measured_latency_overrides_nominal_until_cleared() -> None:
    topology = build([L("a", "r1:e1", "r2:e1", latency=2)])
    topology.set_measured_latency("a", 11)
    assert link(topology, "a").latency_ms == 11
    topology.set_measured_latency("a", None)
    assert link(topology, "a").latency_ms == 2


def test_links_may_arrive_before_their_devices_and_are_unusable_until_declared() -> None:
    topology = Topology()
    topology.upsert_link(L("a", "r1:e1", "r2:e1").spec())
    assert topology.unusable_devices == {"r1", "r2"}
    topology.upsert_device("r1")
    topology.upsert_device("r2", reachable=False)
    assert topology.unusable_devices == {"r2"}
    topology.upsert_device("r2")
    assert not topology.unusable_devices


def test_removing_a_device_with_links_keeps_it_as_an_unusable_placeholder() -> None:
    topology = build([L("a", "r1:e1", "r2:e1")])
    topology.remove_device("r2")
    assert topology.device("r2") is not None
    assert "r2" in topology.unusable_devices
    topology.remove_link("a")
    assert topology.device("r2") is None
    assert [d.name for d in topology.devices()] == ["r1"]


def test_reserving_again_replaces_the_owners_previous_reservation() -> None:
    topology = build(diamond())
    topology.reserve("ns/svc", ["r1-r2", "r2-r3"], 300)
    topology.reserve("ns/svc", ["r1-r2", "r2-r3"], 300)  # a recomputation, same route
    assert link(topology, "r1-r2").reserved_mbps == 300
    topology.reserve("ns/svc", ["r1-r4", "r4-r3"], 200)  # re-pathed
    assert link(topology, "r1-r2").reserved_mbps == 0
    assert link(topology, "r1-r4").reserved_mbps == 200


def test_a_link_listed_twice_in_one_reservation_is_held_once() -> None:
    topology = build(diamond())
    topology.reserve("ns/svc", ["r1-r2", "r1-r2", "r2-r3"], 400)
    assert link(topology, "r1-r2").reserved_mbps == 400


def test_reservations_of_different_owners_add_up_and_release_gives_back_exactly() -> None:
    topology = build(diamond())
    topology.reserve("ns/a", ["r1-r2"], 300)
    topology.reserve("ns/b", ["r1-r2"], 200)
    assert link(topology, "r1-r2").free_mbps == 500
    released = topology.release("ns/a")
    assert released is not None and released.mbps == 300
    assert link(topology, "r1-r2").free_mbps == 800
    assert topology.release("ns/a") is None


def test_a_reservation_that_does_not_fit_changes_nothing() -> None:
    topology = build(diamond())
    topology.reserve("ns/a", ["r1-r2"], 900)
    topology.reserve("ns/b", ["r2-r3"], 100)
    with pytest.raises(CapacityExceeded, match=r"r1-r2: 200 Mbps asked, 100 Mbps free of 1000"):
        topology.reserve("ns/b", ["r1-r2", "r2-r3"], 200)
    assert topology.reservation("ns/b").links == {"r2-r3"}  # type: ignore[union-attr]
    assert link(topology, "r1-r2").reserved_mbps == 900


def test_an_owner_may_grow_into_the_bandwidth_it_already_holds() -> None:
    topology = build([L("a", "r1:e1", "r2:e1", capacity=1000)])
    topology.reserve("ns/svc", ["a"], 800)
    topology.reserve("ns/svc", ["a"], 1000)
    assert link(topology, "a").free_mbps == 0


def test_reservations_survive_a_link_leaving_and_returning() -> None:
    topology = build(diamond())
    topology.reserve("ns/svc", ["r1-r2"], 250)
    spec = link(topology, "r1-r2").spec
    topology.remove_link("r1-r2")
    topology.upsert_link(spec)
    assert link(topology, "r1-r2").reserved_mbps == 250


def test_restoring_reservations_after_a_restart_may_skip_the_capacity_check() -> None:
    topology = build([L("a", "r1:e1", "r2:e1", capacity=100)])
    topology.reserve("ns/old", ["a", "gone"], 150, check_capacity=False)
    assert link(topology, "a").free_mbps == -50
    with pytest.raises(TopologyError, match="unknown link gone"):
        topology.reserve("ns/new", ["gone"], 1)


def test_every_change_bumps_the_generation() -> None:
    topology = build(diamond())
    before = topology.generation
    topology.set_link_state("r1-r2", oper_up=False)
    after_state = topology.generation
    topology.reserve("ns/a", ["r1-r4"], 1)
    assert before < after_state < topology.generation


def test_the_graph_view_is_read_only() -> None:
    topology = build(diamond())
    with pytest.raises(Exception, match="Frozen graph"):
        topology.graph.add_edge("r1", "r9")
