"""Lab topologies: the default network's shape, derived interface names, clear errors."""

from __future__ import annotations

import itertools

import pytest

from intentloop_lab.topology import (
    Topology,
    default_topology,
    dump_topology,
    parse_topology,
)

SMALL = """
name: tri
routers:
  - {name: r1, platform: netconf}
  - {name: r2, platform: gnmi, ports: [ge-0/0/1]}
  - {name: r3, platform: gnmi}
links:
  - {a: r1, b: r2, capacityMbps: 1000, latencyMs: 2}
  - {a: r2, b: r3, capacityMbps: 1000, latencyMs: 3, srlgs: [duct-1]}
"""


def test_default_topology_is_a_ring_of_six_with_two_chords() -> None:
    topo = default_topology()
    names = [r.name for r in topo.routers]
    assert names == ["r1", "r2", "r3", "r4", "r5", "r6"]
    pairs = {tuple(sorted((link.a, link.b))) for link in topo.links}
    ring = {tuple(sorted((f"r{i}", f"r{i % 6 + 1}"))) for i in range(1, 7)}
    assert ring <= pairs
    assert len(pairs - ring) == 2  # the chords
    assert all(len(r.ports) == 2 for r in topo.routers)


def test_default_topology_mixes_netconf_and_gnmi_routers() -> None:
    platforms = [r.platform for r in default_topology().routers]
    assert platforms.count("netconf") == 3
    assert platforms.count("gnmi") == 3


def test_default_topology_makes_path_choice_matter() -> None:
    """Somewhere the fastest route is not the one with the most bandwidth."""
    topo = default_topology()
    assert {link.capacity_mbps for link in topo.links} <= set(range(1000, 10_001))
    assert all(1 <= link.latency_ms <= 10 for link in topo.links)
    edges = {frozenset((link.a, link.b)): link for link in topo.links}
    neighbours: dict[str, set[str]] = {r.name: set() for r in topo.routers}
    for link in topo.links:
        neighbours[link.a].add(link.b)
        neighbours[link.b].add(link.a)

    def simple_paths(path: list[str], dst: str) -> list[list[str]]:
        if path[-1] == dst:
            return [path]
        return [
            found
            for nxt in sorted(neighbours[path[-1]] - set(path))
            for found in simple_paths([*path, nxt], dst)
        ]

    def latency(path: list[str]) -> float:
        return sum(edges[frozenset(hop)].latency_ms for hop in itertools.pairwise(path))

    def width(path: list[str]) -> int:
        return min(edges[frozenset(hop)].capacity_mbps for hop in itertools.pairwise(path))

    differing = 0
    for src, dst in itertools.combinations(neighbours, 2):
        paths = simple_paths([src], dst)
        fastest = min(paths, key=latency)
        if width(fastest) < max(width(p) for p in paths):
            differing += 1
    assert differing >= 3


def test_link_interfaces_are_named_after_the_peer() -> None:
    topo = parse_topology(SMALL)
    link = topo.link("r2", "r1")  # either order names the same link
    assert (link.a_interface, link.b_interface) == ("core-r2", "core-r1")
    assert topo.interfaces_of("r2") == ("ge-0/0/1", "core-r1", "core-r3")
    assert topo.interfaces_of("r1") == ("eth1", "eth2", "core-r2")


def test_a_topology_survives_dump_and_parse() -> None:
    topo = default_topology()
    assert parse_topology(dump_topology(topo)) == topo


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("b: r3,", "b: r9,"), "unknown router 'r9'"),
        (lambda t: t.replace("b: r3,", "b: r2,"), "two different routers"),
        (
            lambda t: t + "  - {a: r2, b: r1, capacityMbps: 10, latencyMs: 1}\n",
            "already exists",
        ),
        (lambda t: t.replace("name: r3,", "name: r2,"), "duplicate name 'r2'"),
        (lambda t: t.replace("ge-0/0/1", "core-x"), "reserved prefix"),
        (lambda t: t.replace("platform: gnmi, ports", "platform: snmp, ports"), "platform"),
        (lambda t: t.replace("latencyMs: 2", "latencyMs: 2, colour: red"), "colour"),
        (lambda t: t.replace("capacityMbps: 1000, latencyMs: 2", "latencyMs: 2"), "capacityMbps"),
    ],
)
def test_a_broken_topology_is_refused_with_the_reason(edit, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        parse_topology(edit(SMALL), source="mine.yaml")


def test_errors_name_the_file() -> None:
    with pytest.raises(ValueError, match=r"^mine\.yaml: "):
        parse_topology("routers: [", source="mine.yaml")
    with pytest.raises(ValueError, match=r"mine\.yaml: expected a mapping"):
        parse_topology("- r1", source="mine.yaml")


def test_snake_case_keys_are_accepted_too() -> None:
    topo = Topology.model_validate(
        {
            "routers": [{"name": "a", "platform": "gnmi"}, {"name": "b", "platform": "gnmi"}],
            "links": [{"a": "a", "b": "b", "capacity_mbps": 5, "latency_ms": 1}],
        }
    )
    assert topo.link("a", "b").capacity_mbps == 5
