"""Suurballe's algorithm: the two link-disjoint routes of least total cost.

Protection asks for a backup sharing nothing with the primary. "Best route, then the best
route avoiding it" is fast and usually right, but fails on "trap" topologies where the
best single route blocks every partner although a disjoint pair exists. Suurballe finds
that pair exactly (for link-disjointness) with two Dijkstra searches: one for distances,
one over the residual network with reduced costs, then cancels links used both ways.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping

from intentloop_intents.pathsearch import INF, LinkFilter, Route
from intentloop_intents.topology import LinkState, Topology

Arc = tuple[str, str, float]  # link name, far device, cost


def pair(
    topology: Topology, source: str, target: str, flt: LinkFilter
) -> tuple[Route, Route] | None:
    """Two link-disjoint routes (bandwidth-filtered) of least total cost, or None.

    Runs when "best route, then best route avoiding it" fails: that greedy pair misses
    "trap" topologies where the best single route blocks every disjoint partner. Both
    searches stop at the target (potentials are capped at the target's distance, which
    keeps reduced costs non-negative), and each device's links are scanned in name order,
    so ties resolve the same way on every rebuild. None is exact: no such pair exists.
    """
    arcs = _Arcs(topology, flt)
    if len(arcs.out(source)) < 2 or len(arcs.out(target)) < 2:
        return None  # one usable link at an end: every pair would share it
    dist, pred = _shortest(arcs.out, source, target)
    if target not in pred:
        return None
    first = _walk(pred, source, target)
    forward = {(name, u) for name, u, _ in first}
    cap = dist[target]

    def residual(u: str) -> list[Arc]:
        kept: list[Arc] = []
        for name, v, cost in arcs.out(u):
            if (name, u) in forward:
                continue  # the first route's own direction is used up
            if (name, v) in forward:
                kept.append((name, v, 0.0))  # the first route, walked backwards
            else:
                reduced = cost + min(dist.get(u, cap), cap) - min(dist.get(v, cap), cap)
                kept.append((name, v, max(0.0, reduced)))
        return kept

    _, pred2 = _shortest(residual, source, target)
    if target not in pred2:
        return None
    second = _walk(pred2, source, target)
    cancelled = {name for name, _, _ in first} & {name for name, _, _ in second}
    out_arcs: dict[str, list[tuple[str, str]]] = {}
    for name, u, v in sorted(first + second):
        if name not in cancelled:
            out_arcs.setdefault(u, []).append((name, v))
    one, two = _trace(out_arcs, source, target), _trace(out_arcs, source, target)
    if one is None or two is None:
        return None  # cannot happen with positive costs; refuse rather than guess
    routes = sorted(
        (_as_route(topology, source, one), _as_route(topology, source, two)),
        key=lambda r: (r.cost, r.latency_ms, r.names),
    )
    return routes[0], routes[1]


class _Arcs:
    """The links a device may use under a filter, in name order, computed once per device."""

    def __init__(self, topology: Topology, flt: LinkFilter) -> None:
        self.topology = topology
        self.flt = flt
        self.cache: dict[str, list[Arc]] = {}

    def out(self, u: str) -> list[Arc]:
        arcs = self.cache.get(u)
        if arcs is None:
            blocked, flt = self.topology.unusable_devices, self.flt
            arcs = [
                (name, v, link.cost)
                for name, (v, link) in sorted(self.topology.adjacency[u].items())
                if v not in blocked and flt.admits(link) and flt.free(link) >= flt.demand_mbps
            ]
            self.cache[u] = arcs
        return arcs


def _shortest(
    out: Callable[[str], list[Arc]], source: str, target: str
) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    """Dijkstra over arcs, stopping at target; ties keep the first arc met (name order)."""
    dist = {source: 0.0}
    pred: dict[str, tuple[str, str]] = {}
    done: set[str] = set()
    heap: list[tuple[float, int, str]] = [(0.0, 0, source)]
    tick = 0
    while heap:
        d, _, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        if u == target:
            break
        for name, v, cost in out(u):
            nd = d + cost
            if v not in done and nd < dist.get(v, INF):
                dist[v] = nd
                pred[v] = (name, u)
                tick += 1
                heapq.heappush(heap, (nd, tick, v))
    return dist, pred


def _walk(
    pred: Mapping[str, tuple[str, str]], source: str, target: str
) -> list[tuple[str, str, str]]:
    steps: list[tuple[str, str, str]] = []
    node = target
    while node != source:
        name, previous = pred[node]
        steps.append((name, previous, node))
        node = previous
    steps.reverse()
    return steps


def _trace(
    out_arcs: dict[str, list[tuple[str, str]]], source: str, target: str
) -> list[str] | None:
    names: list[str] = []
    node = source
    while node != target:
        out = out_arcs.get(node)
        if not out:
            return None
        name, node = out.pop(0)
        names.append(name)
    return names


def _as_route(topology: Topology, source: str, names: list[str]) -> Route:
    states: list[LinkState] = []
    for name in names:
        link = topology.link(name)
        if link is None:
            raise LookupError(f"link {name} vanished during the search")
        states.append(link)
    return Route(
        source=source,
        links=tuple(states),
        cost=math.fsum(link.cost for link in states),
        latency_ms=math.fsum(link.latency_ms for link in states),
    )
