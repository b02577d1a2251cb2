"""Small topologies for the intent-plane tests, written the way an engineer sketches them."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from intentloop_intents.topology import Endpoint, LinkSpec, LinkState, Topology


@dataclass(frozen=True)
class L:
    """A link sketch: "r1:e1" to "r2:e1", with capacity, latency, cost and SRLGs."""

    name: str
    a: str
    b: str
    capacity: float = 1000
    latency: float = 1.0
    cost: float = 10
    srlgs: tuple[str, ...] = ()

    def spec(self) -> LinkSpec:
        a_dev, a_if = self.a.split(":")
        b_dev, b_if = self.b.split(":")
        return LinkSpec(
            name=self.name,
            a=Endpoint(a_dev, a_if),
            b=Endpoint(b_dev, b_if),
            capacity_mbps=self.capacity,
            latency_ms=self.latency,
            cost=self.cost,
            srlgs=frozenset(self.srlgs),
        )


def build(links: Iterable[L], devices: Sequence[str] = (), *, seed: int | None = None) -> Topology:
    """A topology with every device named by a link (or listed) declared and reachable.

    With `seed`, links come first and everything arrives in a shuffled order: results must
    not depend on the order a watch stream delivered them in.
    """
    links = list(links)
    names = set(devices)
    for link in links:
        names.add(link.a.split(":")[0])
        names.add(link.b.split(":")[0])
    ordered_devices = sorted(names)
    if seed is not None:
        rng = random.Random(seed)
        rng.shuffle(ordered_devices)
        rng.shuffle(links)
    topology = Topology()
    if seed is None:
        for device in ordered_devices:
            topology.upsert_device(device)
    for link in links:
        topology.upsert_link(link.spec())
    for device in ordered_devices:  # shuffled: links arrived before their devices
        topology.upsert_device(device)
    return topology


def diamond() -> list[L]:
    """r1 to r3 over r2 (cheap, slow, 300 Mbps on r2-r3) or over r4 (dear, fast)."""
    return [
        L("r1-r2", "r1:e1", "r2:e1", latency=5, cost=10, srlgs=("duct-1",)),
        L("r2-r3", "r2:e2", "r3:e1", capacity=1000, latency=5, cost=10),
        L("r1-r4", "r1:e2", "r4:e1", latency=2, cost=20),
        L("r4-r3", "r4:e2", "r3:e2", latency=2, cost=20),
    ]


def random_links(rng: random.Random, nodes: int, extra: int, *, srlgs: int = 0) -> list[L]:
    """A connected random multigraph: a random tree plus `extra` links (parallels allowed)."""
    ports: dict[str, int] = {}

    def port(device: str) -> str:
        ports[device] = ports.get(device, 0) + 1
        return f"{device}:p{ports[device]}"

    devices = [f"n{i}" for i in range(nodes)]
    pairs = [(devices[i], devices[rng.randrange(i)]) for i in range(1, nodes)]
    for _ in range(extra):
        a, b = rng.sample(devices, 2)
        pairs.append((a, b))
    links = []
    for index, (a, b) in enumerate(pairs):
        groups = tuple(f"g{rng.randrange(srlgs)}" for _ in range(rng.randrange(2))) if srlgs else ()
        links.append(
            L(
                f"l{index:02d}",
                port(a),
                port(b),
                capacity=rng.choice([100, 400, 1000]),
                latency=rng.choice([1, 2, 3, 5]),
                cost=rng.choice([1, 2, 3]),
                srlgs=groups,
            )
        )
    return links


def link(topology: Topology, name: str) -> LinkState:
    state = topology.link(name)
    assert state is not None, f"link {name} exists"
    return state
