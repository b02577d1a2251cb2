"""Whether a service's path meets its SLA now, said so that a person knows where it fails.

The latency of a path is the sum of its links' effective latency: the measured one when
telemetry has reported it, else the nominal one from inventory -- the same figure path
computation uses, so "the route was admitted" and "the route meets its SLA" cannot
disagree about what a link costs. A verdict names the links to blame (`culprits`): the
down links, or those running slower than declared, heaviest first; the operator passes
them on to alarm correlation as `ServiceView.impacted_links`.

A bound near the measured value would make the verdict flip with every sample and the
alarm with it. `evaluate` therefore takes an optional hysteresis: once violated, the SLA is
met again only when the latency is back below the bound by that margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from intentloop_intents.topology import LinkState, Topology

_SHOWN_CULPRITS = 3  # a reason names at most this many links; the verdict keeps them all


@dataclass(frozen=True)
class SlaVerdict:
    met: bool
    measured_ms: float | None
    bound_ms: float | None
    reason: str
    culprits: tuple[str, ...] = ()  # links to blame, worst first; empty when met


def path_latency(topology: Topology, links: Sequence[str]) -> float | None:
    """One-way latency along `links` in ms; None when a link is unknown to the topology."""
    states = _states(topology, links)
    return None if states is None else math.fsum(state.latency_ms for state in states)


def evaluate(
    topology: Topology,
    links: Sequence[str],
    bound_ms: float | None,
    *,
    path_up: bool,
    was_met: bool | None = None,
    hysteresis_ms: float = 0.0,
) -> SlaVerdict:
    """The SLA verdict for a path: up, and no slower than `bound_ms` (None: no bound).

    `path_up` is what the caller knows about the path as a whole (e.g. the service's
    oper state); a link the topology shows down makes the path down too. With `was_met`
    False and a `hysteresis_ms`, a violated SLA stays violated until the latency is at
    most `bound_ms - hysteresis_ms`.
    """
    states = _states(topology, links)
    if states is None:
        unknown = [name for name in links if topology.link(name) is None]
        reason = f"latency unknown: link {', '.join(unknown)} not in the topology"
        return SlaVerdict(False, None, bound_ms, reason)
    measured = math.fsum(state.latency_ms for state in states)
    down = [state for state in states if not state.oper_up]
    if down:
        names = tuple(dict.fromkeys(state.name for state in down))
        return SlaVerdict(False, measured, bound_ms, f"path down: {_named(down)}", names)
    if not path_up:
        return SlaVerdict(False, measured, bound_ms, "path down")
    if bound_ms is None:
        return SlaVerdict(True, measured, None, f"up, latency {measured:.1f} ms (no bound)")
    limit = bound_ms - hysteresis_ms if was_met is False else bound_ms
    if measured <= limit:
        reason = f"latency {measured:.1f} ms within the {bound_ms:g} ms bound"
        return SlaVerdict(True, measured, bound_ms, reason)
    culprits = _slowest(states)
    reason = f"latency {measured:.1f} ms exceeds the {bound_ms:g} ms bound"
    if measured <= bound_ms:
        reason = f"latency {measured:.1f} ms not yet {hysteresis_ms:g} ms below the bound"
        reason += f" of {bound_ms:g} ms"
    if culprits:
        shown = [topology.link(name) for name in culprits[:_SHOWN_CULPRITS]]
        reason += "; slower than declared: " + ", ".join(
            f"{s.label()} {s.latency_ms:.1f} ms (declared {s.spec.latency_ms:g})"
            for s in shown
            if s is not None
        )
    return SlaVerdict(False, measured, bound_ms, reason, culprits)


def _states(topology: Topology, links: Sequence[str]) -> list[LinkState] | None:
    states = []
    for name in links:
        state = topology.link(name)
        if state is None:
            return None
        states.append(state)
    return states


def _slowest(states: Sequence[LinkState]) -> tuple[str, ...]:
    """Links slower than declared, by how much slower, worst first (ties by name)."""
    slower = {s.name: s.latency_ms - s.spec.latency_ms for s in states}
    ranked = sorted((-excess, name) for name, excess in slower.items() if excess > 0)
    return tuple(name for _, name in ranked)


def _named(states: Sequence[LinkState]) -> str:
    labels = list(dict.fromkeys(f"link {state.label()} down" for state in states))
    return ", ".join(labels)
