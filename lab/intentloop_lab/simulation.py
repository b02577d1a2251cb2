"""What the lab's links are doing: up or down, how slow, how full.

The routers only store configuration; the physics lives here. A link is up when nobody has
failed it, both routers run, and neither end is disabled in config. Its latency is the
nominal figure plus whatever a person injected. Its load is the background load plus every
service configured across it: a sub-interface with VLAN v and a policer of R Mbps on a core
interface means R Mbps of that service crosses the link (counted once, even when both ends
carry it). The state is plain data so the maths can be tested without a single socket;
`TelemetryPublisher` then pushes the derived values into each router's gNMI target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from intentloop_lab.topology import Link, Topology


@dataclass(frozen=True)
class ServiceLoad:
    """A configured service on one interface of one router (sub-interface + its policer)."""

    interface: str
    vlan_id: int
    rate_mbps: float


@dataclass(frozen=True)
class ConfiguredView:
    """The part of a router's running config that changes what its links do."""

    loads: tuple[ServiceLoad, ...] = ()
    disabled_interfaces: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LinkState:
    name: str
    a: str
    b: str
    capacity_mbps: int
    admin_up: bool
    oper_up: bool
    nominal_latency_ms: float
    injected_latency_ms: float
    utilisation_mbps: float

    @property
    def latency_ms(self) -> float:
        return self.nominal_latency_ms + self.injected_latency_ms


@dataclass(frozen=True)
class InterfaceTelemetry:
    oper_up: bool
    latency_ms: float
    out_rate_mbps: float


def view_from_json_ietf(tree: Mapping[str, Any]) -> ConfiguredView:
    """Read the services out of a `/intentloop-device:device` JSON_IETF tree.

    Tolerant on purpose: a half-written or tampered config must not stop the simulation, so
    entries with a missing or unreadable key are skipped rather than rejected.
    """
    body = tree.get("intentloop-device:device", tree)
    rates: dict[str, float] = {}
    for policer in _entries(body, "policer"):
        rate = _number(policer.get("rate-mbps"))
        if "name" in policer and rate is not None:
            rates[str(policer["name"])] = rate
    loads = []
    for sub in _entries(body, "subinterface"):
        vlan = _number(sub.get("vlan-id"))
        if "parent" in sub and vlan is not None:
            rate = rates.get(str(sub.get("policer", "")), 0.0)
            loads.append(ServiceLoad(str(sub["parent"]), int(vlan), rate))
    disabled = frozenset(
        str(i["name"])
        for i in _entries(body, "interface")
        if "name" in i and i.get("enabled", True) in (False, "false")
    )
    return ConfiguredView(tuple(loads), disabled)


def _entries(body: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    entries = body.get(name) or ()
    return [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass
class _LinkFaults:
    admin_up: bool = True
    injected_latency_ms: float = 0.0


@dataclass
class Simulation:
    """Mutable lab state; every method is cheap and free of I/O."""

    topology: Topology
    _faults: dict[frozenset[str], _LinkFaults] = field(init=False)
    _running: dict[str, bool] = field(init=False)
    _views: dict[str, ConfiguredView] = field(init=False)

    def __post_init__(self) -> None:
        self._faults = {link.key(): _LinkFaults() for link in self.topology.links}
        self._running = {r.name: True for r in self.topology.routers}
        self._views = {r.name: ConfiguredView() for r in self.topology.routers}

    # --- inputs -------------------------------------------------------------------------
    def set_link_admin(self, a: str, b: str, *, up: bool) -> Link:
        link = self.topology.link(a, b)
        self._faults[link.key()].admin_up = up
        return link

    def inject_latency(self, a: str, b: str, extra_ms: float) -> Link:
        """Add `extra_ms` on top of the link's nominal latency (0 clears the injection)."""
        if extra_ms < 0:
            raise ValueError(f"injected latency must be >= 0 ms, got {extra_ms}")
        link = self.topology.link(a, b)
        self._faults[link.key()].injected_latency_ms = float(extra_ms)
        return link

    def set_running(self, router: str, *, running: bool) -> None:
        self.topology.router(router)
        self._running[router] = running

    def set_config(self, router: str, view: ConfiguredView) -> bool:
        """Record a router's running config; True when it changed what the links do."""
        self.topology.router(router)
        changed = self._views.get(router) != view
        self._views[router] = view
        return changed

    def is_running(self, router: str) -> bool:
        return self._running[router]

    # --- derived state ------------------------------------------------------------------
    def link_state(self, link: Link) -> LinkState:
        faults = self._faults[link.key()]
        oper_up = (
            faults.admin_up
            and self._running[link.a]
            and self._running[link.b]
            and link.a_interface not in self._views[link.a].disabled_interfaces
            and link.b_interface not in self._views[link.b].disabled_interfaces
        )
        load = float(self._service_load(link) + link.background_mbps) if oper_up else 0.0
        return LinkState(
            name=link.name,
            a=link.a,
            b=link.b,
            capacity_mbps=link.capacity_mbps,
            admin_up=faults.admin_up,
            oper_up=oper_up,
            nominal_latency_ms=link.latency_ms,
            injected_latency_ms=faults.injected_latency_ms,
            utilisation_mbps=load,
        )

    def links(self) -> list[LinkState]:
        return [self.link_state(link) for link in self.topology.links]

    def _service_load(self, link: Link) -> float:
        per_vlan: dict[int, float] = {}
        for router in (link.a, link.b):
            interface = link.interface_on(router)
            for load in self._views[router].loads:
                if load.interface == interface:
                    per_vlan[load.vlan_id] = max(per_vlan.get(load.vlan_id, 0.0), load.rate_mbps)
        return sum(per_vlan.values())

    def telemetry(self) -> dict[tuple[str, str], InterfaceTelemetry]:
        """What every router's gNMI target should report, keyed by (router, interface)."""
        values: dict[tuple[str, str], InterfaceTelemetry] = {}
        for state, link in zip(self.links(), self.topology.links, strict=True):
            for router in (link.a, link.b):
                values[(router, link.interface_on(router))] = InterfaceTelemetry(
                    oper_up=state.oper_up,
                    latency_ms=state.latency_ms,
                    out_rate_mbps=state.utilisation_mbps,
                )
        for spec in self.topology.routers:
            running = self._running[spec.name]
            view = self._views[spec.name]
            for port in spec.ports:
                rate = sum(x.rate_mbps for x in view.loads if x.interface == port)
                values[(spec.name, port)] = InterfaceTelemetry(
                    oper_up=running and port not in view.disabled_interfaces,
                    latency_ms=0.0,
                    out_rate_mbps=rate if running else 0.0,
                )
        return values


class TelemetrySink(Protocol):
    """The setters of a lab gNMI target that the simulation drives."""

    def set_oper_status(self, interface: str, up: bool) -> None: ...

    def set_latency(self, interface: str, ms: float) -> None: ...

    def set_out_rate(self, interface: str, mbps: float) -> None: ...

    def set_in_rate(self, interface: str, mbps: float) -> None: ...


class TelemetryPublisher:
    """Pushes simulation values into gNMI targets, only what changed since the last push.

    Pushing only changes keeps a fault's ON_CHANGE update from queueing behind hundreds of
    unchanged values; `forget()` makes a restarted target receive everything again.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], InterfaceTelemetry] = {}

    def forget(self, router: str) -> None:
        for key in [k for k in self._last if k[0] == router]:
            del self._last[key]

    def publish(
        self,
        values: Mapping[tuple[str, str], InterfaceTelemetry],
        sinks: Mapping[str, TelemetrySink],
    ) -> int:
        """Push changed values to the sinks present; returns how many interfaces changed."""
        changed = 0
        for (router, interface), value in values.items():
            sink = sinks.get(router)
            if sink is None:
                continue
            before = self._last.get((router, interface))
            if before == value:
                continue
            _push(sink, interface, value, before)
            self._last[(router, interface)] = value
            changed += 1
        return changed


def _push(
    sink: TelemetrySink,
    interface: str,
    value: InterfaceTelemetry,
    before: InterfaceTelemetry | None,
) -> None:
    # Oper status first: it is the ON_CHANGE leaf a controller is waiting for.
    if before is None or before.oper_up != value.oper_up:
        sink.set_oper_status(interface, value.oper_up)
    if before is None or before.latency_ms != value.latency_ms:
        sink.set_latency(interface, value.latency_ms)
    if before is None or before.out_rate_mbps != value.out_rate_mbps:
        # Links are modelled symmetric: a service's rate flows both ways.
        sink.set_out_rate(interface, value.out_rate_mbps)
        sink.set_in_rate(interface, value.out_rate_mbps)
