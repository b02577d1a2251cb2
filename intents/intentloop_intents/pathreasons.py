"""Why no route fits, said so that a person knows what to change.

A rejection is only useful if it names the constraint that failed and the place in the
network that makes it fail: the bottleneck link and its free capacity, the lowest latency
that is achievable at all, the down link that cuts the network, the shared-risk group every
route crosses. These functions run only after a search failed, so they may search again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from intentloop_intents import pathsearch
from intentloop_intents.pathsearch import LinkFilter, Route
from intentloop_intents.topology import LinkState, Topology


class Constraint(StrEnum):
    """Why no route fits; the values are CamelCase so they can be condition reasons."""

    UNKNOWN_ENDPOINT = "UnknownEndpoint"
    ENDPOINT_UNREACHABLE = "EndpointUnreachable"
    NO_ROUTE = "NoRoute"
    BANDWIDTH = "InsufficientBandwidth"
    LATENCY = "LatencyBoundExceeded"
    DISJOINTNESS = "NoDisjointBackup"


@dataclass(frozen=True, slots=True)
class Infeasibility:
    constraint: Constraint
    message: str
    bottleneck_link: str | None = None
    free_mbps: float | None = None
    capacity_mbps: float | None = None
    best_latency_ms: float | None = None
    shared_srlgs: tuple[str, ...] = ()


def no_capacity(topology: Topology, source: str, target: str, flt: LinkFilter) -> Infeasibility:
    """No route has the bandwidth (or none at all): name the bottleneck of the best one."""
    width = pathsearch.widest(topology, source, target, flt)
    if width == -math.inf:
        return no_route(topology, source, target, flt)
    # The cheapest of the widest routes names a deterministic bottleneck.
    widest = LinkFilter(width, flt.credit, flt.excluded_links, flt.excluded_srlgs)
    route = pathsearch.cheapest(topology, source, target, widest)
    if route is None or not route.links:
        raise AssertionError("a route of the widest width exists")
    neck = min(route.links, key=lambda link: (flt.free(link), link.name))
    free = flt.free(neck)
    return Infeasibility(
        Constraint.BANDWIDTH,
        f"no path with {mbps(flt.demand_mbps)} Mbps free from {source} to {target}: "
        f"bottleneck {neck.label()} has {mbps(free)} Mbps free of {mbps(neck.capacity_mbps)}",
        bottleneck_link=neck.name,
        free_mbps=free,
        capacity_mbps=neck.capacity_mbps,
    )


def no_route(topology: Topology, source: str, target: str, flt: LinkFilter) -> Infeasibility:
    """Source and target are cut apart: say what cuts them (down links, lost devices)."""
    side = pathsearch.reach(topology, source, flt)
    links: set[str] = set()
    devices: set[str] = set()
    for device in side:
        for link in topology.incident(device).values():
            far = link.far_device(device)
            if far in side:
                continue
            if far in topology.unusable_devices:
                devices.add(far)
            elif not flt.admits(link):
                links.add(f"{link.label()} {'down' if not link.oper_up else 'excluded'}")
    causes = [f"link {d}" for d in sorted(links)] + [
        f"device {d} unusable" for d in sorted(devices)
    ]
    detail = "; cut by " + ", ".join(causes) if causes else ": they are not connected"
    return Infeasibility(Constraint.NO_ROUTE, f"no route from {source} to {target}{detail}")


def too_slow(
    source: str, target: str, demand: float, fastest: Route, bound: float
) -> Infeasibility:
    with_bandwidth = f" with {mbps(demand)} Mbps free" if demand > 0 else ""
    slowest = max(fastest.links, key=lambda link: (link.latency_ms, link.name))
    return Infeasibility(
        Constraint.LATENCY,
        f"lowest achievable latency {ms(fastest.latency_ms)} ms{with_bandwidth} from "
        f"{source} to {target} exceeds bound {ms(bound)} ms "
        f"(slowest link on that route: {slowest.label()}, {ms(slowest.latency_ms)} ms)",
        bottleneck_link=slowest.name,
        best_latency_ms=fastest.latency_ms,
    )


def no_backup(
    topology: Topology,
    source: str,
    target: str,
    flt: LinkFilter,
    primary: tuple[LinkState, ...],
    explain_backup: Callable[[], Infeasibility],
) -> Infeasibility:
    """Why no link- and SRLG-disjoint partner exists for `primary` (or was found).

    `explain_backup` says why the greedy partner search failed; it is only asked for (it
    searches again) when neither a bridge nor an unavoidable SRLG explains the failure.
    """
    connected = functools.partial(pathsearch.connected, topology, source, target)
    neck = pathsearch.bridge(topology, source, target, flt, primary)
    if neck is not None:
        return _disjointness(
            f"no link-disjoint backup from {source} to {target}: every route"
            f"{_with(flt)} crosses link {neck.label()}",
            bottleneck=neck.name,
        )
    srlgs = sorted(frozenset().union(*(link.srlgs for link in primary)))
    unavoidable = tuple(s for s in srlgs if not connected(_without(flt, set(), {s})))
    if unavoidable:
        return _disjointness(
            f"no SRLG-disjoint backup from {source} to {target}: all paths{_with(flt)} share "
            f"srlg {', '.join(unavoidable)}",
            shared=unavoidable,
        )
    backup_failure = explain_backup()
    if backup_failure.constraint is Constraint.LATENCY:
        return _disjointness(
            f"no disjoint backup within the latency bound: {backup_failure.message}"
        )
    return _disjointness(
        f"no SRLG-disjoint backup from {source} to {target} found for primary "
        f"{' '.join(link.name for link in primary)}: {backup_failure.message}",
        shared=tuple(srlgs),
    )


def _disjointness(
    message: str, *, bottleneck: str | None = None, shared: tuple[str, ...] = ()
) -> Infeasibility:
    return Infeasibility(
        Constraint.DISJOINTNESS, message, bottleneck_link=bottleneck, shared_srlgs=shared
    )


def _without(
    flt: LinkFilter, links: frozenset[str] | set[str], srlgs: frozenset[str] | set[str]
) -> LinkFilter:
    return LinkFilter(
        flt.demand_mbps, flt.credit, flt.excluded_links | links, flt.excluded_srlgs | srlgs
    )


def _with(flt: LinkFilter) -> str:
    return f" with {mbps(flt.demand_mbps)} Mbps free" if flt.demand_mbps > 0 else ""


def mbps(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def ms(value: float) -> str:
    return f"{value:.1f}" if value >= 0.1 else f"{value:.3f}"
