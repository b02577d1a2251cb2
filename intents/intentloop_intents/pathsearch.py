"""The search engines behind `paths`: constrained bidirectional Dijkstra and its helpers.

`cheapest` is the hot path (every admission and re-path calls it), so constraints are
applied *inside* the search: a link that is down, lacks free bandwidth, leads to an
unusable device or is excluded (by name or SRLG) is never relaxed. It searches from both
ends at once: on meshed networks two half-radius balls hold far fewer devices than one
full-radius ball (at 10k devices a few percent of what a one-sided search visits).

Labels are (primary, secondary, tie) triples compared lexicographically, where primary is
cost, latency, or cost + λ·latency (for `paths`' Lagrangian step) and secondary is the
other measure. `tie` is the sum of the links' stable pseudo-random numbers: exact ties on
cost and latency are then resolved by the topology's content alone, never by the order
links were added, so an operator that rebuilds its view after a restart picks the very same
route. All three parts are additive, which keeps the bidirectional stopping rule exact.

The other engines (`widest`, `reach`, `connected`, `bridge`) run only to explain a failure
or to decide that no disjoint pair can exist.
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

    def weight(self, latency_weight: float) -> float:
        return self.cost + latency_weight * self.latency_ms


def cheapest(
    topology: Topology,
    source: str,
    target: str,
    flt: LinkFilter,
    *,
    by_latency: bool = False,
    latency_weight: float = 0.0,
) -> Route | None:
    """The best route the filter admits, or None.

    Best is least (cost, latency) by default, least (latency, cost) with `by_latency`, and
    least (cost + latency_weight·latency, latency) with a positive `latency_weight`.
    """
    if source == target:
        return Route(source, (), 0.0, 0.0)
    weights = (0.0, 1.0, True) if by_latency else (1.0, latency_weight, False)
    return _Bidirectional(topology, flt, source, target, weights).run()


Key = tuple[float, float, int]  # (primary, secondary, tie)


class _Bidirectional:
    """Dijkstra from both ends; side 0 grows from the source, side 1 from the target."""

    def __init__(
        self,
        topology: Topology,
        flt: LinkFilter,
        source: str,
        target: str,
        weights: tuple[float, float, bool],
    ) -> None:
        self.topology = topology
        self.flt = flt
        # primary = cost_weight * cost + latency_weight * latency; secondary = the other.
        self.cost_weight, self.latency_weight, self.secondary_is_cost = weights
        zero: Key = (0.0, 0.0, 0)
        self.labels: tuple[dict[str, Key], dict[str, Key]] = ({source: zero}, {target: zero})
        self.preds: tuple[dict[str, LinkState], dict[str, LinkState]] = ({}, {})
        self.done: tuple[set[str], set[str]] = (set(), set())
        self.heaps: tuple[list[tuple[float, float, int, str]], ...] = (
            [(0.0, 0.0, 0, source)],
            [(0.0, 0.0, 0, target)],
        )
        self.best: Key | None = None
        # The best meeting: (device, the links that reach it from source and from target).
        self.meet: tuple[str, LinkState | None, LinkState | None] | None = None

    def run(self) -> Route | None:
        forward, backward = self.heaps
        while forward and backward:
            f, b = forward[0], backward[0]
            best = self.best
            if best is not None and (f[0] + b[0], f[1] + b[1], f[2] + b[2]) >= best:
                break
            self._expand(0 if f <= b else 1)
        # A side that ran dry settled everything it can reach: the best meeting is final.
        return None if self.meet is None else self._route()

    def _expand(self, side: int) -> None:
        p, q, tie, u = heapq.heappop(self.heaps[side])
        settled = self.done[side]
        if u in settled:
            return
        settled.add(u)
        mine, theirs = self.labels[side], self.labels[1 - side]
        preds, heap = self.preds[side], self.heaps[side]
        wc, wl, secondary_is_cost = self.cost_weight, self.latency_weight, self.secondary_is_cost
        blocked = self.topology.unusable_devices
        flt = self.flt
        demand, credit = flt.demand_mbps, flt.credit
        x_links, x_srlgs = flt.excluded_links, flt.excluded_srlgs
        for name, (v, link) in self.topology.adjacency[u].items():
            if v in settled or v in blocked or not link.oper_up:
                continue
            free = link.free_mbps
            if free < demand and free + credit.get(name, 0.0) < demand:
                continue
            if (x_links and name in x_links) or (x_srlgs and not x_srlgs.isdisjoint(link.srlgs)):
                continue
            key = (
                p + wc * link.cost + wl * link.latency_ms,
                q + (link.cost if secondary_is_cost else link.latency_ms),
                tie + link.tie,
            )
            old = mine.get(v)
            if old is not None and key >= old:
                continue
            mine[v] = key
            preds[v] = link
            heapq.heappush(heap, (key[0], key[1], key[2], v))
            other = theirs.get(v)
            if other is not None:
                total = (key[0] + other[0], key[1] + other[1], key[2] + other[2])
                if self.best is None or total < self.best:
                    self.best = total
                    across = self.preds[1 - side].get(v)
                    self.meet = (v, link, across) if side == 0 else (v, across, link)

    def _route(self) -> Route:
        assert self.meet is not None
        meet, *ends = self.meet
        halves: list[list[LinkState]] = []
        for preds, end in zip(self.preds, ends, strict=True):
            # Beyond the meeting's own links every device was settled: its label is final.
            half: list[LinkState] = []
            link = end
            node = meet
            while link is not None:
                half.append(link)
                node = link.far_device(node)
                link = preds.get(node)
            halves.append(half)
        links = [*reversed(halves[0]), *halves[1]]
        source = next(iter(self.labels[0]))
        visited = [source]
        for link in links:
            visited.append(link.far_device(visited[-1]))
        assert len(set(visited)) == len(visited), "a best route never visits a device twice"
        return Route(
            source=source,
            links=tuple(links),
            cost=math.fsum(link.cost for link in links),
            latency_ms=math.fsum(link.latency_ms for link in links),
        )


def widest(topology: Topology, source: str, target: str, flt: LinkFilter) -> float:
    """The most free bandwidth any single route from source to target offers (-inf if none).

    A bottleneck search from both ends, alternating: each side settles devices in order of
    decreasing width. A route wider than the best meeting found would have every device
    settled by a side whose frontier is already no wider than that meeting, so the search
    stops there. The two half-searches meet long before either alone would reach the
    other end, which matters because this runs on every bandwidth rejection.
    """
    if source == target:
        return INF
    adjacency, blocked = topology.adjacency, topology.unusable_devices
    widths: tuple[dict[str, float], dict[str, float]] = ({source: INF}, {target: INF})
    done: tuple[set[str], set[str]] = (set(), set())
    heaps: tuple[list[tuple[float, str]], ...] = ([(-INF, source)], [(-INF, target)])
    best = -INF
    side = 0
    while heaps[0] and heaps[1] and best < min(-heaps[0][0][0], -heaps[1][0][0]):
        negative, u = heapq.heappop(heaps[side])
        settled, mine, theirs = done[side], widths[side], widths[1 - side]
        if u not in settled:
            settled.add(u)
            for v, link in adjacency[u].values():
                if v in settled or v in blocked or not flt.admits(link):
                    continue
                w = min(-negative, flt.free(link))
                if w > mine.get(v, -INF):
                    mine[v] = w
                    heapq.heappush(heaps[side], (-w, v))
                    best = max(best, min(w, theirs.get(v, -INF)))
        side = 1 - side
    return best


def reach(topology: Topology, source: str, flt: LinkFilter) -> set[str]:
    """Devices reachable from `source` over admitted links, ignoring bandwidth."""
    blocked = topology.unusable_devices
    seen = {source}
    stack = [source]
    while stack:
        u = stack.pop()
        for v, link in topology.adjacency[u].values():
            if v not in seen and v not in blocked and flt.admits(link):
                seen.add(v)
                stack.append(v)
    return seen


def connected(topology: Topology, source: str, target: str, flt: LinkFilter) -> bool:
    """Whether any admitted route (bandwidth included) joins source and target.

    Breadth-first from both ends, always growing the smaller frontier: when the answer is
    no, the work is bounded by the smaller of the two sides the network falls apart into.
    """
    if source == target:
        return True
    seen = ({source}, {target})
    frontiers = ([source], [target])
    adjacency, blocked = topology.adjacency, topology.unusable_devices
    while frontiers[0] and frontiers[1]:
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        mine, theirs = seen[side], seen[1 - side]
        grown: list[str] = []
        for u in frontiers[side]:
            for v, link in adjacency[u].values():
                if v in mine or v in blocked or not flt.admits(link):
                    continue
                if flt.free(link) < flt.demand_mbps:
                    continue
                if v in theirs:
                    return True
                mine.add(v)
                grown.append(v)
        frontiers = (grown, frontiers[1]) if side == 0 else (frontiers[0], grown)
    return False


def bridge(
    topology: Topology, source: str, target: str, flt: LinkFilter, route: tuple[LinkState, ...]
) -> LinkState | None:
    """The first link of `route` that every admitted route must cross, if there is one."""
    for link in route:
        without = LinkFilter(
            flt.demand_mbps, flt.credit, flt.excluded_links | {link.name}, flt.excluded_srlgs
        )
        if not connected(topology, source, target, without):
            return link
    return None
