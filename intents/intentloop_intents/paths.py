"""Constrained paths: the route an intent gets, or a reason a person can act on.

`constrained_path` returns the cheapest route (then lowest latency, then link names, so
the choice is deterministic) whose every link is up, joins usable devices and has the
requested bandwidth free, and whose end-to-end latency is within the bound.

Cost-minimal routing under a latency bound is the constrained shortest path problem,
NP-hard in general. The trade-off chosen here keeps the common case to ONE search and
stays sound:

1. A Dijkstra on (cost, latency) filters bandwidth/state inside the search and prunes
   partial routes over the bound. When no pruning happened its answer is the exact
   optimum (`cost_optimal=True`); when pruning happened and it still reached the target,
   the route is feasible but possibly not the cheapest feasible one.
2. Only if that search missed the target *because of* pruning, a second Dijkstra on
   (latency, cost) finds the lowest-latency route: within the bound it is returned
   (`cost_optimal=False`, with a note); above it, the request is rejected with the lowest
   achievable latency. So a feasible route is never reported missing.

Exactness would need label-setting search (exponential worst case) or LARAC iterations;
for admission control a feasible, near-cheap route found in milliseconds is worth more.

Failures raise `NoFeasiblePath` carrying an `Infeasibility`: which constraint failed
(its value doubles as a condition reason) and, where there is one, the bottleneck link.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from intentloop_intents import pathreasons, pathsearch
from intentloop_intents.pathreasons import Constraint, Infeasibility
from intentloop_intents.pathsearch import LinkFilter, Route
from intentloop_intents.topology import Topology

__all__ = [
    "Constraint",
    "Hop",
    "Infeasibility",
    "NoFeasiblePath",
    "Path",
    "PathPair",
    "PathRequest",
    "constrained_path",
    "disjoint_pair",
]


class NoFeasiblePath(Exception):
    """Raised when no route meets the request; `infeasibility` says which constraint failed."""

    def __init__(self, infeasibility: Infeasibility) -> None:
        self.infeasibility = infeasibility
        super().__init__(infeasibility.message)


@dataclass(frozen=True, slots=True)
class PathRequest:
    """What a route must satisfy.

    `reuse_owners` names owners whose reservations this request may use as free: the
    requester itself when re-computing its route (so it does not compete with itself) and,
    for a service in a slice, the slice.
    """

    source: str
    target: str
    bandwidth_mbps: float = 0.0
    max_latency_ms: float | None = None
    reuse_owners: tuple[str, ...] = ()
    exclude_links: frozenset[str] = frozenset()
    exclude_srlgs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Hop:
    """One device on a route: where traffic enters and leaves it (None at the route's ends)."""

    device: str
    in_interface: str | None
    out_interface: str | None


@dataclass(frozen=True, slots=True)
class Path:
    links: tuple[str, ...]
    devices: tuple[str, ...]
    hops: tuple[Hop, ...]
    cost: float
    latency_ms: float
    free_mbps: float  # the least free bandwidth along the route before this request
    srlgs: frozenset[str]
    cost_optimal: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class PathPair:
    primary: Path
    backup: Path

    @property
    def links(self) -> tuple[str, ...]:
        """Every link either route uses, each once: what a protected intent reserves."""
        return tuple(sorted(set(self.primary.links) | set(self.backup.links)))


def constrained_path(topology: Topology, request: PathRequest) -> Path:
    """The best route meeting every constraint, or `NoFeasiblePath` saying why not."""
    _check_endpoints(topology, request)
    flt = link_filter(topology, request)
    bound = math.inf if request.max_latency_ms is None else request.max_latency_ms
    src, dst = request.source, request.target
    first = pathsearch.cheapest(topology, src, dst, flt, bound_ms=bound)
    if first.route is not None:
        return to_path(first.route, cost_optimal=not first.pruned)
    if not first.pruned:
        raise NoFeasiblePath(pathreasons.no_capacity(topology, src, dst, flt))
    fastest = pathsearch.cheapest(topology, src, dst, flt, by_latency=True)
    if fastest.route is None:
        raise NoFeasiblePath(pathreasons.no_capacity(topology, src, dst, flt))
    if not pathsearch.within(fastest.route.latency_ms, bound):
        demand = request.bandwidth_mbps
        raise NoFeasiblePath(pathreasons.too_slow(src, dst, demand, fastest.route, bound))
    return to_path(
        fastest.route,
        cost_optimal=False,
        note=f"the cheapest route exceeds {pathreasons.ms(bound)} ms: lowest-latency route chosen",
    )


def link_filter(topology: Topology, request: PathRequest) -> LinkFilter:
    credit: dict[str, float] = {}
    for owner in request.reuse_owners:
        held = topology.reservation(owner)
        if held is not None:
            for name in held.links:
                credit[name] = credit.get(name, 0.0) + held.mbps
    return LinkFilter(
        demand_mbps=request.bandwidth_mbps,
        credit=credit,
        excluded_links=request.exclude_links,
        excluded_srlgs=request.exclude_srlgs,
    )


def to_path(route: Route, *, cost_optimal: bool = True, note: str = "") -> Path:
    devices = [route.source]
    for link in route.links:
        devices.append(link.far_device(devices[-1]))
    hops: list[Hop] = []
    for index, device in enumerate(devices):
        inbound = route.links[index - 1].end_at(device).interface if index > 0 else None
        outbound = route.links[index].end_at(device).interface if index < len(route.links) else None
        hops.append(Hop(device=device, in_interface=inbound, out_interface=outbound))
    return Path(
        links=route.names,
        devices=tuple(devices),
        hops=tuple(hops),
        cost=route.cost,
        latency_ms=route.latency_ms,
        free_mbps=min((link.free_mbps for link in route.links), default=math.inf),
        srlgs=frozenset().union(*(link.srlgs for link in route.links)),
        cost_optimal=cost_optimal,
        note=note,
    )


def _check_endpoints(topology: Topology, request: PathRequest) -> None:
    for end in (request.source, request.target):
        device = topology.device(end)
        if device is None or not device.declared:
            raise NoFeasiblePath(
                Infeasibility(Constraint.UNKNOWN_ENDPOINT, f"endpoint {end} unknown")
            )
        if not device.reachable:
            raise NoFeasiblePath(
                Infeasibility(Constraint.ENDPOINT_UNREACHABLE, f"endpoint {end} is unreachable")
            )


def disjoint_pair(topology: Topology, request: PathRequest) -> PathPair:
    """A primary and a link- and SRLG-disjoint backup, both meeting every constraint.

    First the greedy way (best route, then the best route avoiding its links and every
    link sharing one of its SRLGs). If that fails, Suurballe's algorithm finds the
    link-disjoint pair of least total cost, which rescues "trap" topologies where the best
    single route blocks every partner; the pair is kept if it is SRLG-disjoint and within
    the latency bound. SRLG-disjoint pairs are NP-hard in general, so a pair can still be
    missed when SRLGs and traps combine; the reason then names what the search saw.
    """
    primary = constrained_path(topology, request)
    avoid = PathRequest(
        source=request.source,
        target=request.target,
        bandwidth_mbps=request.bandwidth_mbps,
        max_latency_ms=request.max_latency_ms,
        reuse_owners=request.reuse_owners,
        exclude_links=request.exclude_links | set(primary.links),
        exclude_srlgs=request.exclude_srlgs | primary.srlgs,
    )
    try:
        return PathPair(primary, constrained_path(topology, avoid))
    except NoFeasiblePath as greedy_failure:
        failure = greedy_failure.infeasibility
    flt = link_filter(topology, request)
    pair = pathsearch.suurballe(topology, request.source, request.target, flt)
    bound = math.inf if request.max_latency_ms is None else request.max_latency_ms
    if pair is not None:
        one, two = (to_path(route) for route in pair)
        fits = all(pathsearch.within(p.latency_ms, bound) for p in (one, two))
        if fits and one.srlgs.isdisjoint(two.srlgs):
            note = "least-cost disjoint pair (the best single route had no disjoint partner)"
            return PathPair(_noted(one, note), _noted(two, note))
    primary_links = tuple(topology.link(name) for name in primary.links)
    links = tuple(link for link in primary_links if link is not None)
    reason = pathreasons.no_backup(topology, request.source, request.target, flt, links, failure)
    raise NoFeasiblePath(reason)


def _noted(path: Path, note: str) -> Path:
    return dataclasses.replace(path, cost_optimal=False, note=note)
