"""The search engines behind `paths`: one-pass constrained Dijkstra and its helpers.

`cheapest` is the hot path (every admission and re-path calls it), so constraints are
applied *inside* the search: a link that is down, lacks free bandwidth, leads to an
unusable device, is excluded, or would push the route over the latency bound is never
relaxed. Labels are compared by (cost, latency) or (latency, cost) and, on an exact tie,
by the sequence of link names from the source: a total order that depends only on the
topology's content, never on the order links were added, so an operator that rebuilds its
view after a restart picks the very same route. Reconstructing the two sequences happens
only on exact ties, keeping the common case cheap.

The other engines (`widest`, `reach`, `suurballe`) run only to explain a failure or to
rescue a disjoint pair, so they favour clarity over speed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from intentloop_intents.topology import LinkState, Topology

INF = math.inf
# Latencies are float sums; a route that meets its bound exactly must not fail on rounding.
TOLERANCE_MS = 1e-9


def within(latency_ms: float, bound_ms: float) -> bool:
    return latency_ms <= bound_ms + TOLERANCE_MS


@dataclass(frozen=True, slots=True)
class LinkFilter:
    """Which links a search may use, besides being up and between usable devices."""

    demand_mbps: float = 0.0  # -inf: ignore bandwidth altogether
    credit: Mapping[str, float] = field(default_factory=dict)  # Mbps the requester holds
    excluded_links: frozenset[str] = frozenset()
    excluded_srlgs: frozenset[str] = frozenset()

    def free(self, link: LinkState) -> float:
        return link.free_mbps + self.credit.get(link.name, 0.0)

    def admits(self, link: LinkState) -> bool:
        """Everything but bandwidth (the slow engines check bandwidth themselves)."""
        return (
            link.oper_up
            and link.name not in self.excluded_links
            and self.excluded_srlgs.isdisjoint(link.srlgs)
        )


@dataclass(frozen=True, slots=True)
class Route:
    source: str
    links: tuple[LinkState, ...]
    cost: float
    latency_ms: float

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(link.name for link in self.links)


@dataclass(frozen=True, slots=True)
class Outcome:
    route: Route | None
    pruned: bool  # some partial route was dropped for exceeding the latency bound


def cheapest(
    topology: Topology,
    source: str,
    target: str,
    flt: LinkFilter,
    *,
    by_latency: bool = False,
    bound_ms: float = INF,
) -> Outcome:
    """The best feasible route by (cost, latency) or, with `by_latency`, (latency, cost).

    Partial routes longer than `bound_ms` are pruned (latency only grows), which is sound:
    no pruned route could have been extended into one within the bound.
    """
    blocked = topology.unusable_devices
    incident = topology.incident
    demand, credit = flt.demand_mbps, flt.credit
    x_links, x_srlgs = flt.excluded_links, flt.excluded_srlgs
    best: dict[str, tuple[float, float]] = {source: (0.0, 0.0)}
    pred: dict[str, LinkState] = {}
    done: set[str] = set()
    heap: list[tuple[float, float, int, str]] = [(0.0, 0.0, 0, source)]
    tick = 0
    pruned = False
    limit = bound_ms + TOLERANCE_MS
    while heap:
        k1, k2, _, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        if u == target:
            break
        cu, lu = (k2, k1) if by_latency else (k1, k2)
        for name, link in incident(u).items():
            v = link.b_device if link.a_device == u else link.a_device
            if v in done or v in blocked or not link.oper_up:
                continue
            if link.free_mbps < demand and link.free_mbps + credit.get(name, 0.0) < demand:
                continue
            if (x_links and name in x_links) or (x_srlgs and not x_srlgs.isdisjoint(link.srlgs)):
                continue
            lat = lu + link.latency_ms
            if lat > limit:
                pruned = True
                continue
            key = (lat, cu + link.cost) if by_latency else (cu + link.cost, lat)
            old = best.get(v)
            if old is not None and (key > old or (key == old and not _earlier(pred, u, link, v))):
                continue
            best[v] = key
            pred[v] = link
            tick += 1
            heapq.heappush(heap, (key[0], key[1], tick, v))
    if target not in done:
        return Outcome(None, pruned)
    return Outcome(_route(pred, source, target), pruned)


def widest(topology: Topology, source: str, target: str, flt: LinkFilter) -> float:
    """The most free bandwidth any single route from source to target offers (0 if none)."""
    blocked = topology.unusable_devices
    width: dict[str, float] = {source: INF}
    done: set[str] = set()
    heap: list[tuple[float, str]] = [(-INF, source)]
    while heap:
        negative, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        if u == target:
            return -negative
        for link in topology.incident(u).values():
            v = link.far_device(u)
            if v in done or v in blocked or not flt.admits(link):
                continue
            w = min(-negative, flt.free(link))
            if w > width.get(v, -INF):
                width[v] = w
                heapq.heappush(heap, (-w, v))
    return 0.0


def reach(topology: Topology, source: str, flt: LinkFilter) -> set[str]:
    """Devices reachable from `source` over admitted links, ignoring bandwidth."""
    blocked = topology.unusable_devices
    seen = {source}
    stack = [source]
    while stack:
        u = stack.pop()
        for link in topology.incident(u).values():
            v = link.far_device(u)
            if v not in seen and v not in blocked and flt.admits(link):
                seen.add(v)
                stack.append(v)
    return seen


def _earlier(pred: Mapping[str, LinkState], u: str, link: LinkState, v: str) -> bool:
    """Whether reaching v over `link` from u beats v's current route on link names."""
    current = pred[v]
    mine = [*_names(pred, u), link.name]
    theirs = [*_names(pred, current.far_device(v)), current.name]
    return mine < theirs


def _names(pred: Mapping[str, LinkState], node: str) -> list[str]:
    names: list[str] = []
    while node in pred:
        link = pred[node]
        names.append(link.name)
        node = link.far_device(node)
    names.reverse()
    return names


def _route(pred: Mapping[str, LinkState], source: str, target: str) -> Route:
    links: list[LinkState] = []
    node = target
    while node != source:
        link = pred[node]
        links.append(link)
        node = link.far_device(node)
    links.reverse()
    return Route(
        source=source,
        links=tuple(links),
        cost=math.fsum(link.cost for link in links),
        latency_ms=math.fsum(link.latency_ms for link in links),
    )


# -- Suurballe: two link-disjoint routes of least total cost ------------------------------

Arc = tuple[str, str, float]  # link name, far device, cost


def suurballe(
    topology: Topology, source: str, target: str, flt: LinkFilter
) -> tuple[Route, Route] | None:
    """Two link-disjoint routes (bandwidth-filtered) of least total cost, or None.

    Runs when "best route, then best route avoiding it" fails: that greedy pair misses
    "trap" topologies where the best single route blocks every disjoint partner. Arcs are
    built in link-name order, so ties resolve the same way on every rebuild.
    """
    arcs = _arcs(topology, flt)
    dist, pred = _shortest(arcs, source)
    if target not in dist:
        return None
    first = _walk(pred, source, target)
    forward = {(name, u) for name, u, _ in first}
    residual: dict[str, list[Arc]] = {}
    for u, out in arcs.items():
        if u not in dist:
            continue  # another component: neither route can touch it
        kept: list[Arc] = []
        for name, v, cost in out:
            if (name, u) in forward:
                continue  # the first route's own direction is used up
            on_first = (name, v) in forward  # the first route, walked backwards
            kept.append((name, v, 0.0 if on_first else max(0.0, cost + dist[u] - dist[v])))
        residual[u] = kept
    _, pred2 = _shortest(residual, source)
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


def _arcs(topology: Topology, flt: LinkFilter) -> dict[str, list[Arc]]:
    blocked = topology.unusable_devices
    arcs: dict[str, list[Arc]] = {}
    for link in topology.links():
        if not flt.admits(link) or flt.free(link) < flt.demand_mbps:
            continue
        if link.a_device in blocked or link.b_device in blocked:
            continue
        arcs.setdefault(link.a_device, []).append((link.name, link.b_device, link.cost))
        arcs.setdefault(link.b_device, []).append((link.name, link.a_device, link.cost))
    return arcs


def _shortest(
    arcs: Mapping[str, list[Arc]], source: str
) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    """Plain full Dijkstra over arcs; strict improvement keeps the first (name-ordered) tie."""
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
        for name, v, cost in arcs.get(u, ()):
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
