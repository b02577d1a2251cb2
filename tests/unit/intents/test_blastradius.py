"""Blast radius: what a link or device failure would do to the services, touching nothing."""

from __future__ import annotations

import pytest

from intentloop_intents import blastradius as br
from tests.unit.intents.networks import L, build

# The lab's default shape: a ring r1..r6 (ms as in the lab) with the chords r1-r4 and r2-r5.
RING = [
    L("r1-r2", "r1:c2", "r2:c1", latency=2),
    L("r2-r3", "r2:c3", "r3:c2", latency=3),
    L("r3-r4", "r3:c4", "r4:c3", latency=2),
    L("r4-r5", "r4:c5", "r5:c4", latency=2),
    L("r5-r6", "r5:c6", "r6:c5", latency=4),
    L("r6-r1", "r6:c1", "r1:c6", latency=3),
    L("r1-r4", "r1:c4", "r4:c1", latency=1, capacity=100),
    L("r2-r5", "r2:c5", "r5:c2", latency=6),
]


def _svc(
    ns: str, name: str, links: tuple[str, ...], devices: tuple[str, ...], **kw: object
) -> br.ServiceUse:
    return br.ServiceUse(ns, name, (devices[0], devices[-1]), links, devices, **kw)  # type: ignore[arg-type]


SERVICES = [
    _svc("t1", "chord", ("r1-r4",), ("r1", "r4"), bound_ms=8.0),
    _svc("t1", "tight", ("r1-r4",), ("r1", "r4"), bound_ms=3.0),
    _svc("t2", "far", ("r1-r2", "r2-r3"), ("r1", "r2", "r3")),
    _svc(
        "t2",
        "guarded",
        ("r1-r4",),
        ("r1", "r4"),
        backup_links=("r6-r1", "r5-r6", "r4-r5"),
    ),
    _svc("t3", "elsewhere", ("r4-r5",), ("r4", "r5")),
]


def test_a_link_down_lists_each_service_on_it_with_its_fate() -> None:
    topology = build(RING)
    result = br.blast_radius(topology, SERVICES, links=["r1-r4"])
    fates = {i.name: (i.fate, i.latency_ms) for i in result.impacts}
    assert fates == {
        "chord": ("moves", 7.0),  # r1-r2-r3-r4
        "tight": ("degraded", 7.0),  # the same route, over its 3 ms bound
        "guarded": ("protected", None),
    }
    assert result.tenants == ("t1", "t2")
    (standby,) = br.blast_radius(topology, SERVICES, links=["r5-r6"]).impacts
    assert (standby.name, standby.fate) == ("guarded", "unprotected")
    assert not standby.sla_violated
    assert [i.name for i in result.slas_violated] == ["tight"]


def test_a_device_down_takes_its_links_and_ends_the_services_it_terminates() -> None:
    topology = build(RING)
    result = br.blast_radius(topology, SERVICES, devices=["r2"])
    assert set(result.links) == {"r1-r2", "r2-r3", "r2-r5"}
    by_name = {i.name: i for i in result.impacts}
    assert set(by_name) == {"far"}  # the others cross neither r2 nor its links
    assert by_name["far"].fate == "moves"  # r1-r4-r3, the transit router avoided
    assert by_name["far"].latency_ms == pytest.approx(3.0)
    ends = _svc("t4", "ends", ("r1-r2",), ("r1", "r2"))
    (gone,) = br.blast_radius(topology, [ends], devices=["r2"]).impacts
    assert gone.fate == "down" and gone.detail == "its endpoint device r2 is down"


def test_no_route_at_all_is_down_and_says_why() -> None:
    line = [L("a-b", "a:1", "b:1"), L("b-c", "b:2", "c:1")]
    result = br.blast_radius(
        build(line), [_svc("t", "s", ("a-b", "b-c"), ("a", "b", "c"))], links=["b-c"]
    )
    (impact,) = result.impacts
    assert impact.fate == "down" and impact.detail.startswith("no route")
    assert impact.sla_violated


def test_capacity_held_by_others_counts_but_the_services_own_does_not() -> None:
    topology = build(RING)
    topology.reserve("t9/big", ["r1-r2"], 1000.0)  # r1-r2 is full
    s = _svc("t1", "s", ("r1-r4",), ("r1", "r4"), bandwidth_mbps=10.0, bound_ms=10.0)
    (impact,) = br.blast_radius(topology, [s], links=["r1-r4"]).impacts
    assert impact.fate == "moves" and impact.latency_ms == pytest.approx(9.0)  # r1-r6-r5-r4


def test_nothing_is_changed_and_unknown_names_are_refused() -> None:
    topology = build(RING)
    before = topology.generation
    br.blast_radius(topology, SERVICES, links=["r1-r4"], devices=["r3"])
    assert topology.generation == before
    assert all(link.oper_up for link in topology.links())
    with pytest.raises(br.UnknownElement, match="no link r9-r1"):
        br.blast_radius(topology, SERVICES, links=["r9-r1"])
    with pytest.raises(br.UnknownElement, match="no device r9"):
        br.blast_radius(topology, SERVICES, devices=["r9"])
