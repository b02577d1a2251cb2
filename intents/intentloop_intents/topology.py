"""The network as path computation sees it: devices, links, their state and reservations.

The operator rebuilds this view from Device/Link resources and telemetry, then asks
`paths` for routes and records what each admitted intent holds with `reserve`.

Why a `networkx.MultiGraph` keyed by link name: two devices are often joined by parallel
links (a LAG's members, a second fibre on another duct), and each must keep its own
capacity, state and shared-risk groups. A MultiGraph keeps every link as its own edge
(key = link name) without inventing link-nodes that would distort hop counts and graph
algorithms (bridges, components) used by diagnosis and alarm correlation. Path search
itself reads a per-device index (`adjacency`: link name -> far device and link), kept in
step with the graph by the same private methods, because one flat dict per device is
several times faster to scan than networkx's nested adjacency views.

Reservations are kept per owner (a service or slice id): reserving again for the same
owner *replaces* what it held, so recomputing a path never counts bandwidth twice, and
reservations outlive link updates (a link removed then re-added counts them again).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

import networkx as nx


class TopologyError(ValueError):
    """An update that would make the topology inconsistent (duplicate port, bad numbers)."""


class CapacityExceeded(TopologyError):
    """A reservation that does not fit on a link; says which link and by how much."""

    def __init__(self, link: str, free_mbps: float, capacity_mbps: float, asked_mbps: float):
        self.link = link
        self.free_mbps = free_mbps
        self.capacity_mbps = capacity_mbps
        self.asked_mbps = asked_mbps
        super().__init__(
            f"link {link}: {asked_mbps:g} Mbps asked, {free_mbps:g} Mbps free of {capacity_mbps:g}"
        )


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    device: str
    interface: str


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """What inventory declares about a link (from the Link resource's spec)."""

    name: str
    a: Endpoint
    b: Endpoint
    capacity_mbps: float
    latency_ms: float = 1.0
    cost: float = 10.0
    srlgs: frozenset[str] = frozenset()
    # A stable pseudo-random integer per link name. Summed along a route it breaks exact
    # (cost, latency) ties the same way whatever order links were added in, and, being
    # additive, keeps bidirectional search exact.
    tie: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.name.encode()).digest()
        object.__setattr__(self, "tie", int.from_bytes(digest[:6], "big"))
        if not self.name:
            raise TopologyError("a link needs a name")
        if self.a.device == self.b.device:
            raise TopologyError(f"link {self.name}: both ends on device {self.a.device}")
        if not (math.isfinite(self.capacity_mbps) and self.capacity_mbps >= 0):
            raise TopologyError(f"link {self.name}: capacity must be a finite number >= 0")
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise TopologyError(f"link {self.name}: latency must be a finite number >= 0")
        # A strictly positive cost makes every route's (cost, latency) grow hop by hop,
        # which Dijkstra's correctness under the lexicographic order relies on.
        if not (math.isfinite(self.cost) and self.cost > 0):
            raise TopologyError(f"link {self.name}: cost must be a finite number > 0")


@dataclass(frozen=True, slots=True)
class LinkState:
    """One link now: declaration, oper state, measured latency and reservations.

    `latency_ms` is the effective latency (measured when known, else nominal) and
    `free_mbps` the capacity not reserved; both are precomputed for the search's speed.
    """

    spec: LinkSpec
    oper_up: bool
    measured_latency_ms: float | None
    reserved_mbps: float
    name: str = field(init=False)
    a_device: str = field(init=False)
    b_device: str = field(init=False)
    cost: float = field(init=False)
    tie: int = field(init=False, repr=False)
    srlgs: frozenset[str] = field(init=False)
    latency_ms: float = field(init=False)
    free_mbps: float = field(init=False)

    def __post_init__(self) -> None:
        spec = self.spec
        latency = spec.latency_ms if self.measured_latency_ms is None else self.measured_latency_ms
        for key, value in (
            ("name", spec.name),
            ("a_device", spec.a.device),
            ("b_device", spec.b.device),
            ("cost", spec.cost),
            ("tie", spec.tie),
            ("srlgs", spec.srlgs),
            ("latency_ms", latency),
            ("free_mbps", spec.capacity_mbps - self.reserved_mbps),
        ):
            object.__setattr__(self, key, value)

    @property
    def capacity_mbps(self) -> float:
        return self.spec.capacity_mbps

    def far_device(self, device: str) -> str:
        return self.b_device if device == self.a_device else self.a_device

    def end_at(self, device: str) -> Endpoint:
        """This link's endpoint on `device` (one of its two ends)."""
        return self.spec.a if device == self.a_device else self.spec.b

    def label(self) -> str:
        """How a person recognises the link in a message: name and the devices it joins."""
        if self.name in (f"{self.a_device}-{self.b_device}", f"{self.b_device}-{self.a_device}"):
            return self.name
        return f"{self.name} ({self.a_device}-{self.b_device})"


@dataclass(frozen=True, slots=True)
class DeviceState:
    name: str
    reachable: bool
    declared: bool  # False: only named by a link so far (watch events arrive in any order)

    @property
    def usable(self) -> bool:
        return self.declared and self.reachable


@dataclass(frozen=True, slots=True)
class Reservation:
    owner: str
    links: frozenset[str]
    mbps: float


class Topology:
    """A mutable, incrementally updated view of devices, links and reservations."""

    def __init__(self) -> None:
        self._graph: Any = nx.MultiGraph()
        self._devices: dict[str, DeviceState] = {}
        self._links: dict[str, LinkState] = {}
        # device -> link name -> (far device, link): the search's hot path reads this.
        self._adjacent: dict[str, dict[str, tuple[str, LinkState]]] = {}
        self._ports: dict[Endpoint, str] = {}
        self._unusable: set[str] = set()
        self._reservations: dict[str, Reservation] = {}
        self._reserved_on: dict[str, dict[str, float]] = {}
        self._generation = 0

    # -- reading ---------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Bumped on every change, so callers can tell whether a cached answer is stale."""
        return self._generation

    @property
    def graph(self) -> Any:
        """A read-only networkx view: nodes = devices, edges keyed by link name ("link")."""
        return self._graph.copy(as_view=True)

    @property
    def unusable_devices(self) -> Set[str]:
        """Devices a route may not cross: unreachable, or not declared yet (read-only)."""
        return self._unusable

    def device(self, name: str) -> DeviceState | None:
        return self._devices.get(name)

    def devices(self) -> tuple[DeviceState, ...]:
        return tuple(self._devices[n] for n in sorted(self._devices))

    def link(self, name: str) -> LinkState | None:
        return self._links.get(name)

    def links(self) -> tuple[LinkState, ...]:
        return tuple(self._links[n] for n in sorted(self._links))

    def link_at(self, device: str, interface: str) -> LinkState | None:
        """The link plugged into a port, e.g. to attribute a port's telemetry to a link."""
        name = self._ports.get(Endpoint(device, interface))
        return None if name is None else self._links[name]

    def incident(self, device: str) -> dict[str, LinkState]:
        """Links at a device, by name."""
        return {name: link for name, (_, link) in self._adjacent.get(device, {}).items()}

    @property
    def adjacency(self) -> Mapping[str, Mapping[str, tuple[str, LinkState]]]:
        """device -> link name -> (far device, link), for searches; read-only by contract.

        The live index itself, not a copy: a search reads it once per query instead of
        paying a call (or a copy) per visited device.
        """
        return self._adjacent

    def reservation(self, owner: str) -> Reservation | None:
        return self._reservations.get(owner)

    def reservations(self) -> dict[str, Reservation]:
        return dict(sorted(self._reservations.items()))

    # -- devices ---------------------------------------------------------------------

    def upsert_device(self, name: str, *, reachable: bool = True) -> None:
        if not name:
            raise TopologyError("a device needs a name")
        self._put_device(DeviceState(name=name, reachable=reachable, declared=True))

    def remove_device(self, name: str) -> None:
        """Forget a device; if links still name it, it stays as an undeclared, unusable node."""
        if name not in self._devices:
            return
        if self._adjacent.get(name):
            self._put_device(DeviceState(name=name, reachable=False, declared=False))
        else:
            self._drop_device(name)

    # -- links -----------------------------------------------------------------------

    def upsert_link(self, spec: LinkSpec, *, oper_up: bool | None = None) -> None:
        """Add or redefine a link; its oper state and measured latency carry over."""
        for end in (spec.a, spec.b):
            holder = self._ports.get(end)
            if holder is not None and holder != spec.name:
                raise TopologyError(
                    f"link {spec.name}: port {end.device}:{end.interface} already used by "
                    f"link {holder}"
                )
        old = self._links.get(spec.name)
        rewired = old is not None and (old.spec.a, old.spec.b) != (spec.a, spec.b)
        if old is not None and rewired:
            self._unplug(old)
        up = oper_up if oper_up is not None else (old.oper_up if old is not None else True)
        # A re-cabled link's old measurement says nothing about the new route.
        measured = old.measured_latency_ms if old is not None and not rewired else None
        for end in (spec.a, spec.b):
            if end.device not in self._devices:
                self._put_device(DeviceState(name=end.device, reachable=False, declared=False))
        if old is None or rewired:
            self._graph.add_edge(spec.a.device, spec.b.device, key=spec.name)
            self._ports[spec.a] = spec.name
            self._ports[spec.b] = spec.name
        self._put_link(LinkState(spec, up, measured, self._reserved_total(spec.name)))

    def remove_link(self, name: str) -> None:
        """Forget a link (reservations naming it are kept and count again if it returns)."""
        state = self._links.get(name)
        if state is None:
            return
        self._unplug(state)
        self._generation += 1

    def set_link_state(self, name: str, *, oper_up: bool) -> None:
        state = self._require(name)
        if state.oper_up != oper_up:
            self._put_link(
                LinkState(state.spec, oper_up, state.measured_latency_ms, state.reserved_mbps)
            )

    def set_measured_latency(self, name: str, latency_ms: float | None) -> None:
        """Measured latency overrides the nominal one; None goes back to nominal."""
        if latency_ms is not None and not (math.isfinite(latency_ms) and latency_ms >= 0):
            raise TopologyError(f"link {name}: measured latency must be a finite number >= 0")
        state = self._require(name)
        if state.measured_latency_ms != latency_ms:
            self._put_link(LinkState(state.spec, state.oper_up, latency_ms, state.reserved_mbps))

    # -- reservations ----------------------------------------------------------------

    def reserve(
        self, owner: str, links: Iterable[str], mbps: float, *, check_capacity: bool = True
    ) -> Reservation:
        """Make `owner` hold `mbps` on each of `links`, replacing what it held before.

        A link listed twice (e.g. shared by a primary and its backup) is held once. With
        `check_capacity` (the default) every link must exist and have room, counting the
        owner's previous reservation as free; on failure nothing changes. Restoring
        reservations after a restart passes `check_capacity=False`: what was admitted stays.
        """
        if not owner:
            raise TopologyError("a reservation needs an owner")
        if not (math.isfinite(mbps) and mbps >= 0):
            raise TopologyError(f"reservation for {owner}: mbps must be a finite number >= 0")
        wanted = frozenset(links)
        if check_capacity:
            for name in sorted(wanted):
                state = self._require(name)
                free = state.free_mbps + self._reserved_on.get(name, {}).get(owner, 0.0)
                if free < mbps:
                    raise CapacityExceeded(name, free, state.capacity_mbps, mbps)
        self.release(owner)
        reservation = Reservation(owner=owner, links=wanted, mbps=mbps)
        self._reservations[owner] = reservation
        for name in wanted:
            self._reserved_on.setdefault(name, {})[owner] = mbps
            self._refresh_reserved(name)
        self._generation += 1
        return reservation

    def release(self, owner: str) -> Reservation | None:
        """Give back everything `owner` holds; returns what it held (None if nothing)."""
        reservation = self._reservations.pop(owner, None)
        if reservation is None:
            return None
        for name in reservation.links:
            holders = self._reserved_on.get(name, {})
            holders.pop(owner, None)
            if not holders:
                self._reserved_on.pop(name, None)
            self._refresh_reserved(name)
        self._generation += 1
        return reservation

    # -- internals -------------------------------------------------------------------

    def _require(self, name: str) -> LinkState:
        state = self._links.get(name)
        if state is None:
            raise TopologyError(f"unknown link {name}")
        return state

    def _reserved_total(self, name: str) -> float:
        return math.fsum(self._reserved_on.get(name, {}).values())

    def _refresh_reserved(self, name: str) -> None:
        state = self._links.get(name)
        if state is not None:
            total = self._reserved_total(name)
            self._put_link(LinkState(state.spec, state.oper_up, state.measured_latency_ms, total))

    def _put_link(self, state: LinkState) -> None:
        name = state.name
        self._links[name] = state
        self._adjacent.setdefault(state.a_device, {})[name] = (state.b_device, state)
        self._adjacent.setdefault(state.b_device, {})[name] = (state.a_device, state)
        self._graph.edges[state.a_device, state.b_device, name]["link"] = state
        self._generation += 1

    def _unplug(self, state: LinkState) -> None:
        name = state.name
        del self._links[name]
        self._graph.remove_edge(state.a_device, state.b_device, key=name)
        for end in (state.spec.a, state.spec.b):
            self._ports.pop(end, None)
            incident = self._adjacent.get(end.device, {})
            incident.pop(name, None)
            device = self._devices.get(end.device)
            if not incident and device is not None and not device.declared:
                self._drop_device(end.device)

    def _put_device(self, state: DeviceState) -> None:
        self._devices[state.name] = state
        self._graph.add_node(state.name, device=state)
        if state.usable:
            self._unusable.discard(state.name)
        else:
            self._unusable.add(state.name)
        self._generation += 1

    def _drop_device(self, name: str) -> None:
        del self._devices[name]
        self._adjacent.pop(name, None)
        self._unusable.discard(name)
        if self._graph.has_node(name):
            self._graph.remove_node(name)
        self._generation += 1
