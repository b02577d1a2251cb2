"""Path computation against brute force on many small random networks.

Every simple route is enumerated and judged by the definition (all links up and between
usable devices, bandwidth free, latency within the bound; best = least cost, then latency,
then link names). The one-pass search must agree wherever it claims optimality, must never
report "no route" when one exists, and must never return a route that breaks a constraint.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest

from intentloop_intents.paths import (
    Constraint,
    NoFeasiblePath,
    Path,
    PathRequest,
    constrained_path,
    disjoint_pair,
)
from intentloop_intents.topology import LinkState, Topology
from tests.unit.intents.networks import build, link, random_links

SEEDS = range(150)


def scenario(seed: int, *, srlgs: int = 0) -> tuple[Topology, PathRequest, random.Random]:
    rng = random.Random(seed)
    links = random_links(rng, nodes=rng.randint(3, 7), extra=rng.randint(0, 7), srlgs=srlgs)
    topology = build(links, seed=seed)
    for spec in rng.sample(links, k=len(links) // 8):
        topology.set_link_state(spec.name, oper_up=False)
    for index, spec in enumerate(rng.sample(links, k=len(links) // 3)):
        topology.reserve(
            f"ns/x{index}", [spec.name], rng.choice([50, 300, 700, 950]), check_capacity=False
        )
    devices = sorted(d.name for d in topology.devices())
    if rng.random() < 0.3:
        topology.upsert_device(rng.choice(devices), reachable=False)
    source, target = rng.sample(devices, 2)
    bound = rng.choice([None, None, 3.0, 6.0, 9.0])
    request = PathRequest(source, target, rng.choice([0, 100, 400, 800]), bound)
    return topology, request, rng


def routes(topology: Topology, source: str, target: str) -> Iterator[tuple[LinkState, ...]]:
    """Every simple route (no device twice), over any link, as link tuples."""
    stack: list[tuple[str, tuple[str, ...], tuple[LinkState, ...]]] = [(source, (source,), ())]
    while stack:
        node, seen, links = stack.pop()
        if node == target:
            yield links
            continue
        for state in topology.incident(node).values():
            far = state.far_device(node)
            if far not in seen:
                stack.append((far, (*seen, far), (*links, state)))


def usable(topology: Topology, links: tuple[LinkState, ...], request: PathRequest) -> bool:
    """Everything but the latency bound."""
    node = request.source
    if node in topology.unusable_devices:
        return False
    for state in links:
        node = state.far_device(node)
        short = 0 < request.bandwidth_mbps > state.free_mbps  # no demand: reservations moot
        if not state.oper_up or short:
            return False
        if node in topology.unusable_devices:
            return False
    return True


def latency(links: tuple[LinkState, ...]) -> float:
    return math.fsum(s.latency_ms for s in links)


def rank(links: tuple[LinkState, ...]) -> tuple[float, float, int, tuple[str, ...]]:
    """The documented order: cost, latency, then the links' stable tie numbers."""
    cost = math.fsum(s.cost for s in links)
    return (cost, latency(links), sum(s.tie for s in links), tuple(s.name for s in links))


def within(links: tuple[LinkState, ...], request: PathRequest) -> bool:
    return request.max_latency_ms is None or latency(links) <= request.max_latency_ms + 1e-9


def assert_meets(topology: Topology, path: Path, request: PathRequest) -> None:
    links = tuple(link(topology, name) for name in path.links)
    assert usable(topology, links, request) and within(links, request)
    assert path.devices[0] == request.source and path.devices[-1] == request.target


@pytest.mark.parametrize("seed", SEEDS)
def test_the_search_agrees_with_brute_force(seed: int) -> None:
    topology, request, _ = scenario(seed)
    candidates = list(routes(topology, request.source, request.target))
    fitting = [r for r in candidates if usable(topology, r, request) and within(r, request)]
    try:
        path = constrained_path(topology, request)
    except NoFeasiblePath as failure:
        assert not fitting, f"a route exists: {[s.name for s in fitting[0]]}"
        constraint = failure.infeasibility.constraint
        if any(usable(topology, r, request) for r in candidates):
            assert constraint is Constraint.LATENCY
        else:
            assert constraint is not Constraint.LATENCY
        return
    assert_meets(topology, path, request)
    best = min(fitting, key=rank)
    if path.cost_optimal:
        assert path.links == rank(best)[3]
    else:
        assert request.max_latency_ms is not None, "only a latency bound costs optimality"
        assert path.cost_lower_bound - 1e-9 <= rank(best)[0] <= path.cost


@pytest.mark.parametrize("seed", SEEDS)
def test_a_named_bottleneck_is_the_weakest_link_of_the_widest_route(seed: int) -> None:
    topology, request, _ = scenario(seed)
    request = PathRequest(request.source, request.target, bandwidth_mbps=10_000)
    try:
        constrained_path(topology, request)
    except NoFeasiblePath as failure:
        why = failure.infeasibility
        open_routes = [
            r
            for r in routes(topology, request.source, request.target)
            if usable(topology, r, PathRequest(request.source, request.target, -math.inf))
        ]
        if why.constraint is Constraint.BANDWIDTH:
            widest = max(min(s.free_mbps for s in r) for r in open_routes)
            assert why.free_mbps == widest
            assert link(topology, why.bottleneck_link or "").free_mbps == widest
        else:
            assert not open_routes
            assert why.constraint in {Constraint.NO_ROUTE, Constraint.ENDPOINT_UNREACHABLE}
    else:
        pytest.fail("10 Gbps fits nowhere in these networks")


@pytest.mark.parametrize("seed", SEEDS)
def test_the_answer_does_not_depend_on_insertion_order(seed: int) -> None:
    topology, request, rng = scenario(seed)
    answers = set()
    for _ in range(3):
        rebuilt = Topology()
        for device in rng.sample(topology.devices(), k=len(topology.devices())):
            rebuilt.upsert_device(device.name, reachable=device.reachable)
        for state in rng.sample(topology.links(), k=len(topology.links())):
            rebuilt.upsert_link(state.spec, oper_up=state.oper_up)
        held = sorted(topology.reservations().items())
        for owner, reservation in rng.sample(held, k=len(held)):
            rebuilt.reserve(owner, reservation.links, reservation.mbps, check_capacity=False)
        try:
            answers.add(constrained_path(rebuilt, request).links)
        except NoFeasiblePath as failure:
            answers.add((str(failure),))
    assert len(answers) == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_disjoint_pairs_are_found_whenever_they_exist_without_risk_groups(seed: int) -> None:
    topology, request, _ = scenario(seed)
    request = PathRequest(request.source, request.target, request.bandwidth_mbps)
    fitting = [
        r for r in routes(topology, request.source, request.target) if usable(topology, r, request)
    ]
    exists = any(
        not {s.name for s in one} & {s.name for s in two} for one in fitting for two in fitting
    )
    try:
        pair = disjoint_pair(topology, request)
    except NoFeasiblePath as failure:
        assert not exists, str(failure)
        return
    assert exists
    for path in (pair.primary, pair.backup):
        assert_meets(topology, path, request)
    assert not set(pair.primary.links) & set(pair.backup.links)


def srlgs_of(links: tuple[LinkState, ...]) -> frozenset[str]:
    return frozenset().union(*(s.srlgs for s in links))


@pytest.mark.parametrize("seed", range(300))
def test_protected_pairs_share_no_risk_and_are_found_when_they_exist(seed: int) -> None:
    # Denser networks with risk groups and latency bounds: SRLG-disjoint pairs are NP-hard,
    # so this checks the heuristic's soundness always and its completeness on these seeds.
    rng = random.Random(seed)
    links = random_links(rng, nodes=rng.randint(4, 9), extra=rng.randint(2, 10), srlgs=4)
    topology = build(links)
    for index, spec in enumerate(rng.sample(links, k=len(links) // 3)):
        mbps = rng.choice([50, 300, 700, 950])
        topology.reserve(f"ns/x{index}", [spec.name], mbps, check_capacity=False)
    source, target = rng.sample(sorted(d.name for d in topology.devices()), 2)
    request = PathRequest(source, target, rng.choice([0, 100, 400]), rng.choice([None, 6.0, 9.0]))
    fitting = [
        r
        for r in routes(topology, source, target)
        if usable(topology, r, request) and within(r, request)
    ]
    exists = any(
        not {s.name for s in one} & {s.name for s in two} and not srlgs_of(one) & srlgs_of(two)
        for one in fitting
        for two in fitting
    )
    try:
        pair = disjoint_pair(topology, request)
    except NoFeasiblePath as failure:
        assert not exists, str(failure)
        why = failure.infeasibility
        for group in why.shared_srlgs if "all paths" in why.message else ():
            assert all(group in srlgs_of(r) for r in fitting)
        return
    for path in (pair.primary, pair.backup):
        assert_meets(topology, path, request)
    assert not set(pair.primary.links) & set(pair.backup.links)
    assert not pair.primary.srlgs & pair.backup.srlgs


def test_reservations_always_add_up_to_what_owners_hold() -> None:
    rng = random.Random(7)
    topology = build(random_links(rng, nodes=6, extra=6))
    names = [s.name for s in topology.links()]
    for _ in range(500):
        owner = f"ns/o{rng.randrange(8)}"
        if rng.random() < 0.3:
            topology.release(owner)
        else:
            picked = rng.sample(names, k=rng.randint(1, 4)) * rng.randint(1, 2)
            topology.reserve(owner, picked, rng.choice([1, 10, 100]), check_capacity=False)
        held = topology.reservations().values()
        for name in names:
            expected = sum(r.mbps for r in held if name in r.links)
            assert link(topology, name).reserved_mbps == expected
